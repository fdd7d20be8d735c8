//! Background jobs: one thread per kind of job, fed through a channel.
//!
//! Every submission gets a generation number. The thread skips queued jobs that a newer one has
//! superseded, and [`Worker::poll`] drops any result whose generation is not the latest, so a result
//! that arrives after a newer edit never reaches the screen. A panic inside a job is caught and
//! reported as an error instead of leaving the UI waiting forever.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

/// Something that can wake the UI when a result is ready (the egui context in the app).
type Waker = Arc<Mutex<Option<egui::Context>>>;

/// A background worker computing `O` from `I`.
pub struct Worker<I, O> {
    tx: Sender<(u64, I)>,
    rx: Receiver<(u64, Result<O, String>)>,
    waker: Waker,
    submitted: u64,
    received: u64,
}

impl<I: Send + 'static, O: Send + 'static> Worker<I, O> {
    /// Start the worker thread; `job` runs on it for every (non-superseded) submission.
    pub fn new(name: &str, job: impl Fn(I) -> O + Send + 'static) -> Self {
        let (tx, job_rx) = channel::<(u64, I)>();
        let (out_tx, rx) = channel();
        let waker: Waker = Arc::new(Mutex::new(None));
        let thread_waker = Arc::clone(&waker);
        let spawned = std::thread::Builder::new().name(name.to_string()).spawn(move || {
            while let Ok(mut next) = job_rx.recv() {
                // Only the newest queued job matters.
                while let Ok(newer) = job_rx.try_recv() {
                    next = newer;
                }
                let (generation, input) = next;
                let out = catch_unwind(AssertUnwindSafe(|| job(input))).map_err(|p| {
                    let what = p
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    format!("internal error in the simulator: {what}")
                });
                if out_tx.send((generation, out)).is_err() {
                    break;
                }
                if let Ok(w) = thread_waker.lock()
                    && let Some(ctx) = w.as_ref()
                {
                    ctx.request_repaint();
                }
            }
        });
        if let Err(e) = spawned {
            // Without a thread no job will ever finish; say so on the first poll.
            let (fake_tx, fake_rx) = channel();
            let _ = fake_tx.send((1, Err(format!("cannot start a worker thread: {e}"))));
            return Worker { tx, rx: fake_rx, waker, submitted: 0, received: 0 };
        }
        Worker { tx, rx, waker, submitted: 0, received: 0 }
    }

    /// Let the worker request a repaint of this context when a result arrives.
    pub fn set_waker(&self, ctx: &egui::Context) {
        if let Ok(mut w) = self.waker.lock()
            && w.is_none()
        {
            *w = Some(ctx.clone());
        }
    }

    /// Queue a job; it supersedes every job submitted before. Returns its generation.
    pub fn submit(&mut self, input: I) -> u64 {
        self.submitted += 1;
        let _ = self.tx.send((self.submitted, input));
        self.submitted
    }

    /// The latest result if it has arrived since the last poll; stale results are discarded.
    pub fn poll(&mut self) -> Option<Result<O, String>> {
        let mut latest = None;
        while let Ok((generation, out)) = self.rx.try_recv() {
            if generation == self.submitted {
                self.received = generation;
                latest = Some(out);
            }
        }
        latest
    }

    /// A submitted job has not reported yet.
    pub fn busy(&self) -> bool {
        self.received < self.submitted
    }

    /// Generation of the latest submission (0 before the first).
    pub fn generation(&self) -> u64 {
        self.submitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait<I: Send + 'static, O: Send + 'static>(w: &mut Worker<I, O>) -> Result<O, String> {
        let t = Instant::now();
        loop {
            if let Some(r) = w.poll() {
                return r;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "worker timed out");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn newest_submission_wins() {
        let mut w = Worker::new("test", |x: u64| {
            std::thread::sleep(Duration::from_millis(20));
            x * 2
        });
        for x in 0..10 {
            w.submit(x);
        }
        assert!(w.busy());
        assert_eq!(wait(&mut w), Ok(18));
        assert!(!w.busy());
        // Nothing older shows up later.
        std::thread::sleep(Duration::from_millis(100));
        assert!(w.poll().is_none());
    }

    #[test]
    fn panics_become_errors() {
        let mut w = Worker::new("test", |x: u32| {
            assert!(x != 3, "three is right out");
            x
        });
        w.submit(3);
        let e = wait(&mut w).unwrap_err();
        assert!(e.contains("three is right out"), "{e}");
        w.submit(4);
        assert_eq!(wait(&mut w), Ok(4));
    }
}
