//! argon2id hashing and verification, for `auth::sign_in` and `hash-password`.
//!
//! A check costs tens of ms of CPU and 19 MiB, so it runs on one niced thread
//! per core, each reusing its own memory (floods neither grow the process nor
//! delay kicks and pongs). An unknown user is checked against a dummy hash at
//! the same cost. Each job owns its queue place and rate-limit ticket and
//! settles them itself: a requester that hangs up or times out neither frees
//! its place early nor escapes the failure count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, TrySendError};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use super::{AuthError, Ticket};

/// The most memory one verification may use (a users file with an absurd
/// `m` cost must not exhaust the host): 256 MiB.
const MAX_BLOCKS: usize = 256 * 1024;
/// What an unknown user's password is checked against: a hash with the same
/// cost as real ones, of a random string nobody kept.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$P6tSTMXNwDkEmDKz3Uxo9Q$29jvY1hUp1jJcQwRH5myjnAzowIj3GFYz9VYRu71Ffk";
/// Nice value of the hashing threads (higher = yields to the async workers).
const HASHING_NICE: i32 = 10;

/// Hashes `password` with argon2id at the OWASP-recommended cost
/// (m = 19 MiB, t = 2, p = 1: the argon2 crate's defaults).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(AuthError::Rng)?;
    let salt = SaltString::encode_b64(&salt).map_err(AuthError::hashing)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(AuthError::hashing)
}

/// One password check, from the queue to its verdict.
struct Job {
    hash: String,
    /// False for an unknown user: `hash` is the dummy, the answer is false.
    known: bool,
    password: String,
    span: tracing::Span,
    reply: oneshot::Sender<bool>,
    /// Settled here, not by the requester, which may be gone by then.
    ticket: Ticket,
    /// Given back when the job is done, not when its requester leaves.
    place: QueuePlace,
}

/// Verifies passwords on dedicated low-priority threads; cheap to clone.
#[derive(Clone)]
pub struct PasswordVerifier {
    jobs: mpsc::SyncSender<Job>,
    dummy: Arc<String>,
    /// Checks queued or running; past `MAX_QUEUED` new ones are refused.
    queued: Arc<AtomicUsize>,
}

/// Checks allowed to wait for a hashing thread. A flood beyond this (many
/// IPs and accounts at once) is answered 429 at once instead of growing a
/// queue that would take minutes to drain.
const MAX_QUEUED: usize = 512;

impl PasswordVerifier {
    /// Checks allowed to be queued or running at once.
    pub const QUEUE_CAPACITY: usize = MAX_QUEUED;

    /// Checks queued or running now.
    pub fn queue_depth(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Starts `threads` hashing threads (normally one per core). They stop
    /// when the last clone of the verifier is dropped.
    pub fn new(threads: usize) -> Result<Self, AuthError> {
        // Every queued job holds a place, so the channel never fills; its
        // bound only makes that visible.
        let (jobs, queue) = mpsc::sync_channel::<Job>(MAX_QUEUED);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || work(&queue))
                .map_err(AuthError::hashing)?;
        }
        Ok(PasswordVerifier {
            jobs,
            dummy: Arc::new(DUMMY_HASH.to_owned()),
            queued: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// True when `password` matches `stored`. With `stored == None` (unknown
    /// user) the dummy hash is checked and the answer is always false.
    ///
    /// The job takes `ticket` and settles it before answering: a wrong
    /// password is a failure whether or not anyone still waits. Cancel-safe
    /// in that sense: dropping this future (client gone, request timeout)
    /// leaves the job queued, holding its place; if it has not started by
    /// then, it is not hashed and counts as a failure. `Busy` when the
    /// queue is full; the ticket then counts nothing.
    pub async fn verify(
        &self,
        stored: Option<&str>,
        password: &str,
        ticket: Ticket,
    ) -> Result<bool, AuthError> {
        let place = QueuePlace::take(&self.queued).ok_or(AuthError::Busy)?;
        let (reply, answer) = oneshot::channel();
        let job = Job {
            hash: stored.unwrap_or(&self.dummy).to_owned(),
            known: stored.is_some(),
            password: password.to_owned(),
            span: tracing::Span::current(),
            reply,
            ticket,
            place,
        };
        let gone = || AuthError::hashing("password hashing threads stopped");
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => AuthError::Busy,
            TrySendError::Disconnected(_) => gone(),
        })?;
        answer.await.map_err(|_| gone())
    }
}

/// One place in the hashing queue, held while a check waits or runs.
struct QueuePlace(Arc<AtomicUsize>);

impl QueuePlace {
    fn take(queued: &Arc<AtomicUsize>) -> Option<Self> {
        if queued.fetch_add(1, Ordering::SeqCst) >= MAX_QUEUED {
            queued.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(QueuePlace(queued.clone()))
    }
}

impl Drop for QueuePlace {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One hashing thread: takes jobs until the verifier is dropped.
fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    lower_priority();
    let mut memory: Vec<Block> = Vec::new();
    loop {
        // The lock is held only while waiting for the next job.
        let job = match queue.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        job.run(&mut memory);
    }
}

impl Job {
    /// Checks the password, frees the place, settles the ticket, and answers
    /// once the ticket is settled (so a client that retries at once sees its
    /// failure, on any instance).
    fn run(self, memory: &mut Vec<Block>) {
        let _entered = self.span.enter();
        let ok = if self.reply.is_closed() {
            // Nobody will read the answer: save the hash, but hanging up
            // must not turn a guess into a free one.
            tracing::debug!("password check abandoned before it ran; counted as failed");
            false
        } else {
            // Hash before looking at `known`: an unknown user costs the same.
            let matched = verify_with(memory, &self.hash, self.password.as_bytes());
            self.known && matched
        };
        drop(self.place);
        let reply = self.reply;
        self.ticket.settle(!ok, move || {
            let _ = reply.send(ok);
        });
    }
}

/// Checks `password` against a PHC string, reusing `memory` for the blocks.
fn verify_with(memory: &mut Vec<Block>, hash: &str, password: &[u8]) -> bool {
    let mut attempt = || -> Result<bool, String> {
        let parsed = PasswordHash::new(hash).map_err(|e| e.to_string())?;
        let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| e.to_string())?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).map_err(|e| e.to_string())?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).map_err(|e| e.to_string())?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err("hash has no salt or output".into());
        };
        let mut salt_buf = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_buf).map_err(|e| e.to_string())?;
        let blocks = params.block_count();
        if blocks > MAX_BLOCKS {
            return Err(format!("memory cost of {blocks} KiB is above the limit"));
        }
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        let mut out = vec![0u8; expected.len()];
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..blocks])
            .map_err(|e| e.to_string())?;
        // `Output` compares in constant time.
        Ok(Output::new(&out).is_ok_and(|o| o == expected))
    };
    attempt().unwrap_or_else(|e| {
        tracing::error!(error = %e, "stored password hash is unusable");
        false
    })
}

/// Best effort: hashing threads yield the cores to the async workers.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls on the calling thread's own id; no memory is shared.
        let result = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, HASHING_NICE)
        };
        if result != 0 {
            tracing::debug!("could not lower the hashing threads' priority");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::{poll_fn, Future};
    use std::pin::Pin;
    use std::task::Poll;

    use super::*;
    use crate::auth::{FailureLimiter, RateLimits, Refusal};
    use crate::domain::{AccountKey, ManualClock, Username};
    use crate::store::MemoryFailures;

    /// One failed attempt allowed per IP; accounts unlimited.
    fn one_guess_per_ip() -> Arc<FailureLimiter> {
        let limits = RateLimits {
            per_ip: 1,
            per_account: 0,
        };
        let counter = Arc::new(MemoryFailures::new());
        FailureLimiter::new(limits, counter, Arc::new(ManualClock::new()))
    }

    async fn admit(limiter: &Arc<FailureLimiter>, ip: &str) -> Result<Ticket, Refusal> {
        let account = AccountKey::of(&Username::parse("u").unwrap());
        limiter.admit(ip, &account, None).await
    }

    /// Polls `check` once, which queues its job (`verify` sends it before
    /// its first await), and leaves it pending.
    async fn queue<F: Future + Unpin>(check: &mut F) {
        poll_fn(|cx| {
            assert!(Pin::new(&mut *check).poll(cx).is_pending());
            Poll::Ready(())
        })
        .await
    }

    /// Queues `check` and drops it, as a cancelled request does.
    async fn abandon<F: Future + Unpin>(mut check: F) {
        queue(&mut check).await;
    }

    /// A hash five times as costly as the default: a check against it keeps
    /// the only hashing thread busy while a test queues others behind it.
    fn slow_hash() -> String {
        let params = Params::new(19_456, 10, 1, None).unwrap();
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string()
    }

    async fn verify(v: &PasswordVerifier, stored: Option<&str>, password: &str) -> bool {
        v.verify(stored, password, Ticket::unlimited())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn verifies_its_own_hashes() {
        let v = PasswordVerifier::new(2).unwrap();
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(&v, Some(&h), "s3cret").await);
        assert!(!verify(&v, Some(&h), "wrong").await);
        assert!(!verify(&v, None, "password1").await);
        assert!(!verify(&v, Some("not a hash"), "x").await);
    }

    #[test]
    fn reuses_memory_across_costs() {
        let cheap = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let cheap_hash = cheap.hash_password(b"pw", &salt).unwrap().to_string();
        let full_hash = hash_password("pw").unwrap();
        let mut memory = Vec::new();
        assert!(verify_with(&mut memory, &full_hash, b"pw"));
        let grown = memory.len();
        assert!(
            verify_with(&mut memory, &cheap_hash, b"pw"),
            "a smaller cost uses a prefix"
        );
        assert!(!verify_with(&mut memory, &cheap_hash, b"other"));
        assert_eq!(memory.len(), grown, "no reallocation");
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let i_hash = argon2i.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(
            verify_with(&mut memory, &i_hash, b"pw"),
            "the algorithm comes from the hash"
        );
    }

    #[tokio::test]
    async fn a_wrong_password_counts_when_nobody_waits_for_the_answer() {
        let v = PasswordVerifier::new(1).unwrap();
        let limiter = one_guess_per_ip();
        let h = hash_password("pw").unwrap();
        let ticket = admit(&limiter, "ip").await.unwrap();
        abandon(Box::pin(v.verify(Some(&h), "wrong", ticket))).await;
        // The next attempt waits for the abandoned one, then is refused.
        assert!(admit(&limiter, "ip").await.is_err());
    }

    #[tokio::test]
    async fn a_queued_check_whose_requester_left_is_not_hashed_but_counts() {
        let v = PasswordVerifier::new(1).unwrap();
        let limiter = one_guess_per_ip();
        let (slow, h) = (slow_hash(), hash_password("pw").unwrap());
        let ticket = admit(&limiter, "a").await.unwrap();
        let mut ahead = Box::pin(v.verify(Some(&slow), "pw", ticket));
        queue(&mut ahead).await;
        let ticket = admit(&limiter, "b").await.unwrap();
        abandon(Box::pin(v.verify(Some(&h), "pw", ticket))).await;
        assert!(ahead.await.unwrap());
        // Hashed, the right password would have counted nothing.
        assert!(admit(&limiter, "b").await.is_err());
        assert!(admit(&limiter, "a").await.is_ok(), "a success is free");
    }

    #[tokio::test]
    async fn an_abandoned_check_holds_its_queue_place_until_its_job_is_done() {
        let v = PasswordVerifier::new(1).unwrap();
        let (slow, h) = (slow_hash(), hash_password("pw").unwrap());
        let mut ahead = Box::pin(v.verify(Some(&slow), "pw", Ticket::unlimited()));
        queue(&mut ahead).await;
        abandon(Box::pin(v.verify(Some(&h), "pw", Ticket::unlimited()))).await;
        assert_eq!(v.queued.load(Ordering::SeqCst), 2);
        assert!(ahead.await.unwrap());
        // One thread takes jobs in order: this one runs after the abandoned one.
        assert!(verify(&v, Some(&h), "pw").await);
        assert_eq!(v.queued.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn abandoned_checks_still_fill_the_bounded_queue() {
        let v = PasswordVerifier::new(1).unwrap();
        let (slow, h) = (slow_hash(), hash_password("pw").unwrap());
        let mut ahead = Box::pin(v.verify(Some(&slow), "pw", Ticket::unlimited()));
        queue(&mut ahead).await;
        for _ in 1..MAX_QUEUED {
            abandon(Box::pin(v.verify(Some(&h), "pw", Ticket::unlimited()))).await;
        }
        let refused = v.verify(Some(&h), "pw", Ticket::unlimited()).await;
        assert!(matches!(refused, Err(AuthError::Busy)), "{refused:?}");
        assert!(ahead.await.unwrap());
    }

    #[test]
    fn refuses_absurd_memory_costs() {
        let mut memory = Vec::new();
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$3Ylf0mvu3HXGyXvwVZ6AotmjKGJOfmCdk1OQnZ6lwYU";
        assert!(!verify_with(&mut memory, huge, b"pw"));
        assert!(memory.is_empty());
    }
}
