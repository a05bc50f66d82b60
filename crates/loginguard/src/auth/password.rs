//! argon2id hashing and verification.
//!
//! Verification costs tens of milliseconds of CPU and 19 MiB of memory, so it
//! runs on a small pool of dedicated threads, one per core, each reusing its
//! own memory block (no allocation per sign-in, so the process does not grow
//! with sign-in floods) and running at a lower scheduling priority than the
//! async workers, so that kicks and pongs are not queued behind hashing. An
//! unknown user is verified against a dummy hash: it costs the same time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use super::AuthError;

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

struct Job {
    hash: String,
    password: String,
    span: tracing::Span,
    reply: oneshot::Sender<bool>,
}

/// Verifies passwords on dedicated low-priority threads; cheap to clone.
#[derive(Clone)]
pub struct PasswordVerifier {
    jobs: mpsc::Sender<Job>,
    dummy: Arc<String>,
    /// Checks queued or running; past `MAX_QUEUED` new ones are refused.
    queued: Arc<AtomicUsize>,
}

/// Checks allowed to wait for a hashing thread. A flood beyond this (many
/// IPs and accounts at once) is answered 429 at once instead of growing a
/// queue that would take minutes to drain.
const MAX_QUEUED: usize = 512;

impl PasswordVerifier {
    /// Starts `threads` hashing threads (normally one per core). They stop
    /// when the last clone of the verifier is dropped.
    pub fn new(threads: usize) -> Result<Self, AuthError> {
        let (jobs, queue) = mpsc::channel::<Job>();
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
    pub async fn verify(&self, stored: Option<&str>, password: &str) -> Result<bool, AuthError> {
        let known = stored.is_some();
        let (reply, answer) = oneshot::channel();
        let job = Job {
            hash: stored.unwrap_or(&self.dummy).to_owned(),
            password: password.to_owned(),
            span: tracing::Span::current(),
            reply,
        };
        // The place is given back on drop, so a request cancelled while it
        // waits (timeout, client gone) does not keep it.
        let _place = QueuePlace::take(&self.queued).ok_or(AuthError::Busy)?;
        let gone = || AuthError::hashing("password hashing threads stopped");
        self.jobs.send(job).map_err(|_| gone())?;
        let ok = answer.await.map_err(|_| gone())?;
        Ok(known && ok)
    }
}

/// One place in the hashing queue, held while a check waits or runs.
struct QueuePlace<'a>(&'a AtomicUsize);

impl<'a> QueuePlace<'a> {
    fn take(queued: &'a AtomicUsize) -> Option<Self> {
        if queued.fetch_add(1, Ordering::SeqCst) >= MAX_QUEUED {
            queued.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(QueuePlace(queued))
    }
}

impl Drop for QueuePlace<'_> {
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
        let _entered = job.span.enter();
        let ok = verify_with(&mut memory, &job.hash, job.password.as_bytes());
        let _ = job.reply.send(ok);
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
    use super::*;

    #[tokio::test]
    async fn verifies_its_own_hashes() {
        let v = PasswordVerifier::new(2).unwrap();
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(v.verify(Some(&h), "s3cret").await.unwrap());
        assert!(!v.verify(Some(&h), "wrong").await.unwrap());
        assert!(!v.verify(None, "password1").await.unwrap());
        assert!(!v.verify(Some("not a hash"), "x").await.unwrap());
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
    async fn a_cancelled_check_gives_its_queue_place_back() {
        let v = PasswordVerifier::new(1).unwrap();
        let h = hash_password("pw").unwrap();
        for _ in 0..3 {
            let _ = tokio::time::timeout(
                std::time::Duration::from_micros(1),
                v.verify(Some(&h), "pw"),
            )
            .await;
        }
        // Let the abandoned checks finish on the hashing thread.
        assert!(v.verify(Some(&h), "pw").await.unwrap());
        assert_eq!(v.queued.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn refuses_absurd_memory_costs() {
        let mut memory = Vec::new();
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$3Ylf0mvu3HXGyXvwVZ6AotmjKGJOfmCdk1OQnZ6lwYU";
        assert!(!verify_with(&mut memory, huge, b"pw"));
        assert!(memory.is_empty());
    }
}
