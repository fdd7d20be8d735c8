//! Background jobs: one thread per kind of job, fed through a channel.
//!
//! Every submission gets a generation number. The thread skips queued jobs that a newer one has
//! superseded, and [`Worker::poll`] drops any result whose generation is not the latest, so a result
//! that arrives after a newer edit never reaches the screen. A panic inside a job is caught and
//! reported as an error instead of leaving the UI waiting forever.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use wanka_sim::Cancel;

/// Something that can wake the UI when a result is ready (the egui context in the app).
type Waker = Arc<Mutex<Option<egui::Context>>>;

/// The message of a caught panic.
fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    let what = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("internal error in the simulator: {what}")
}

/// A background worker computing `O` from `I`.
pub struct Worker<I, O> {
    tx: Sender<(u64, I)>,
    rx: Receiver<(u64, Result<O, String>)>,
    waker: Waker,
    submitted: u64,
    received: u64,
    /// Flags of the running jobs of a concurrent worker (empty for [`Worker::new`]'s).
    running: Arc<Mutex<Vec<Cancel>>>,
    /// Jobs submitted over the worker's life ([`Worker::discard`] does not count).
    jobs: u64,
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
                let out = catch_unwind(AssertUnwindSafe(|| job(input))).map_err(panic_text);
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
            return Worker { tx, rx: fake_rx, waker, submitted: 0, received: 0, running: Arc::default(), jobs: 0 };
        }
        Worker { tx, rx, waker, submitted: 0, received: 0, running: Arc::default(), jobs: 0 }
    }

    /// A worker whose jobs may run long (plan comparisons, Monte Carlo runs): a newer job cancels the
    /// superseded ones (their [`Cancel`] flag is set; the simulator stops at its next check) and does not
    /// wait for them to wind down but starts on its own thread beside them (at most `max_running` at
    /// once), with its own rayon pool so the old job's parallel loops do not starve it. A superseded
    /// job's result, if it still arrives, is dropped.
    pub fn concurrent(name: &str, max_running: usize, job: impl Fn(I, &Cancel) -> O + Send + Sync + 'static) -> Self {
        let (tx, job_rx) = channel::<(u64, I)>();
        let (out_tx, rx) = channel::<(u64, Result<O, String>)>();
        let waker: Waker = Arc::new(Mutex::new(None));
        let thread_waker = Arc::clone(&waker);
        let job = Arc::new(job);
        let name_owned = name.to_string();
        let max_running = max_running.max(1);
        let running_flags: Arc<Mutex<Vec<Cancel>>> = Arc::default();
        let shared_flags = Arc::clone(&running_flags);
        let spawned = std::thread::Builder::new().name(name.to_string()).spawn(move || {
            let (done_tx, done_rx) = channel::<()>();
            let mut running = 0usize;
            // Flags of the jobs started so far; each new job cancels the ones before it.
            let mut started: Vec<Cancel> = Vec::new();
            let mut pending: Option<(u64, I)> = None;
            let mut open = true;
            while open || pending.is_some() {
                match job_rx.recv_timeout(std::time::Duration::from_millis(20)) {
                    Ok(j) => pending = Some(j),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => open = false,
                }
                while let Ok(newer) = job_rx.try_recv() {
                    pending = Some(newer);
                }
                while done_rx.try_recv().is_ok() {
                    running = running.saturating_sub(1);
                }
                if running >= max_running {
                    continue;
                }
                let Some((generation, input)) = pending.take() else { continue };
                for c in started.drain(..) {
                    c.cancel();
                }
                let cancel = Cancel::new();
                started.push(cancel.clone());
                if let Ok(mut f) = shared_flags.lock() {
                    f.clear();
                    f.push(cancel.clone());
                }
                let (job, job_tx, done_tx, waker) = (Arc::clone(&job), out_tx.clone(), done_tx.clone(), Arc::clone(&thread_waker));
                let run = move || {
                    let pool = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("wanka-job-{i}")).build();
                    let out = catch_unwind(AssertUnwindSafe(|| match &pool {
                        Ok(pool) => pool.install(|| job(input, &cancel)),
                        Err(_) => job(input, &cancel),
                    }))
                    .map_err(panic_text);
                    let _ = job_tx.send((generation, out));
                    let _ = done_tx.send(());
                    if let Ok(w) = waker.lock()
                        && let Some(ctx) = w.as_ref()
                    {
                        ctx.request_repaint();
                    }
                };
                match std::thread::Builder::new().name(format!("{name_owned}-{generation}")).spawn(run) {
                    Ok(_) => running += 1,
                    Err(e) => {
                        let _ = out_tx.send((generation, Err(format!("cannot start a worker thread: {e}"))));
                    }
                }
            }
        });
        if let Err(e) = spawned {
            let (fake_tx, fake_rx) = channel();
            let _ = fake_tx.send((1, Err(format!("cannot start a worker thread: {e}"))));
            return Worker { tx, rx: fake_rx, waker, submitted: 0, received: 0, running: Arc::default(), jobs: 0 };
        }
        Worker { tx, rx, waker, submitted: 0, received: 0, running: running_flags, jobs: 0 }
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
        self.jobs += 1;
        let _ = self.tx.send((self.submitted, input));
        self.submitted
    }

    /// Jobs submitted so far (each superseding the one before).
    pub fn jobs_submitted(&self) -> u64 {
        self.jobs
    }

    /// Stop the running job (a concurrent worker's job sees its [`Cancel`] flag at its next check) and
    /// drop its result, as [`Worker::discard`] does. Returns whether a job was running.
    pub fn cancel(&mut self) -> bool {
        let was = self.busy();
        if let Ok(f) = self.running.lock() {
            for c in f.iter() {
                c.cancel();
            }
        }
        self.discard();
        was
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

    /// Forget the submitted jobs: their results are dropped when they arrive (a file was closed).
    pub fn discard(&mut self) {
        self.submitted += 1;
        self.received = self.submitted;
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
    fn concurrent_worker_does_not_wait_for_a_superseded_job() {
        let mut w = Worker::concurrent("test", 2, |x: u64, _: &Cancel| {
            if x == 1 {
                std::thread::sleep(Duration::from_millis(1500));
            }
            x * 2
        });
        w.submit(1);
        std::thread::sleep(Duration::from_millis(100));
        w.submit(2);
        let t = Instant::now();
        assert_eq!(wait(&mut w), Ok(4));
        assert!(t.elapsed() < Duration::from_millis(1000), "waited for the slow job");
        // The slow job's result is dropped.
        std::thread::sleep(Duration::from_millis(1800));
        assert!(w.poll().is_none());
        w.submit(3);
        assert_eq!(wait(&mut w), Ok(6));
        let mut p = Worker::concurrent("test", 1, |x: u32, _: &Cancel| {
            assert!(x != 3, "three is right out");
            x
        });
        p.submit(3);
        assert!(wait(&mut p).unwrap_err().contains("three is right out"));
    }

    #[test]
    fn a_newer_job_cancels_the_superseded_one() {
        let (seen_tx, seen_rx) = std::sync::mpsc::channel::<u64>();
        let seen_tx = Mutex::new(seen_tx);
        let mut w = Worker::concurrent("test", 2, move |x: u64, cancel: &Cancel| {
            if x == 1 {
                // Runs until cancelled (or gives up after 10 s), and reports that it saw the flag.
                let t = Instant::now();
                while !cancel.is_cancelled() && t.elapsed() < Duration::from_secs(10) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                if cancel.is_cancelled() {
                    let _ = seen_tx.lock().unwrap().send(x);
                }
            }
            x
        });
        w.submit(1);
        std::thread::sleep(Duration::from_millis(100));
        w.submit(2);
        assert_eq!(wait(&mut w), Ok(2));
        assert_eq!(seen_rx.recv_timeout(Duration::from_secs(5)), Ok(1), "the superseded job was not cancelled");
    }

    #[test]
    fn cancel_stops_the_running_job_and_drops_its_result() {
        let (seen_tx, seen_rx) = std::sync::mpsc::channel::<u64>();
        let seen_tx = Mutex::new(seen_tx);
        let mut w = Worker::concurrent("test", 2, move |x: u64, cancel: &Cancel| {
            let t = Instant::now();
            while !cancel.is_cancelled() && t.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(5));
            }
            if cancel.is_cancelled() {
                let _ = seen_tx.lock().unwrap().send(x);
            }
            x
        });
        w.submit(7);
        std::thread::sleep(Duration::from_millis(100));
        assert!(w.cancel(), "a job was running");
        assert!(!w.busy());
        assert_eq!(seen_rx.recv_timeout(Duration::from_secs(5)), Ok(7), "the job did not see the cancel");
        std::thread::sleep(Duration::from_millis(50));
        assert!(w.poll().is_none(), "the cancelled job's result is dropped");
        assert!(!w.cancel(), "nothing left to cancel");
        assert_eq!(w.jobs_submitted(), 1);
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
