# pytest --nbmake notebooks/: run the committed notebooks only, not Jupyter's autosave copies or
# anything under the generated data directory.
collect_ignore_glob = ["**/.ipynb_checkpoints/*", "data/*"]
