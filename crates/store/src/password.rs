//! Submitter passwords: argon2id hashes in PHC string form (algorithm, parameters and salt travel
//! with the hash, so the parameters can be raised later without invalidating stored hashes).

use crate::StoreError;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};

/// Argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane: OWASP's recommendation).
pub fn hash(password: &str) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Password(e.to_string()))
}

/// Hashes several passwords on every core: seeding submitters is bound by this.
pub fn hash_all(passwords: &[&str]) -> Result<Vec<String>, StoreError> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(passwords.len()).max(1);
    let chunk = passwords.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = passwords
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|p| hash(p)).collect::<Result<Vec<_>, _>>()))
            .collect();
        let mut out = Vec::with_capacity(passwords.len());
        for h in handles {
            let part = h.join().map_err(|_| StoreError::Password("a hashing thread panicked".into()))??;
            out.extend(part);
        }
        Ok(out)
    })
}

/// Checks `password` against a stored PHC string; `None` (no such submitter) is checked against
/// a fixed hash so that it takes as long as a wrong password.
pub fn verify(stored: Option<&str>, password: &str) -> Result<bool, StoreError> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    let (phc, known) = match stored {
        Some(s) => (s.to_string(), true),
        None => match DUMMY.get_or_init(|| hash("no such submitter").ok()) {
            Some(d) => (d.clone(), false),
            None => return Ok(false),
        },
    };
    let parsed = PasswordHash::new(&phc).map_err(|e| StoreError::corrupt("password hash", e))?;
    let ok = matches(&parsed, password)?;
    Ok(ok && known)
}

/// Recomputes the hash in one of a few reused work areas and compares in constant time.
///
/// Argon2 needs its whole memory cost (19 MiB) per check. Allocated per check, on whichever of
/// the server's blocking threads runs it, those blocks stayed in the allocator's per-thread
/// arenas and a server under load sat at 470 MB resident; a pool of one work area per core
/// bounds the memory (and the parallelism, which the cores bound anyway).
fn matches(parsed: &PasswordHash<'_>, password: &str) -> Result<bool, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::corrupt("password hash", e);
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| corrupt(&e))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| corrupt(&e))?,
        None => Version::default(),
    };
    let params = Params::try_from(parsed).map_err(|e| corrupt(&e))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(corrupt(&"no salt or no hash"));
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(|e| corrupt(&e))?;
    let blocks = params.block_count();
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    let mut area = WorkAreas::global().take();
    area.resize(blocks, Block::default());
    let hashed = argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut area[..blocks]);
    WorkAreas::global().give_back(area);
    hashed.map_err(|e| StoreError::Password(e.to_string()))?;
    let computed = Output::new(&out).map_err(|e| corrupt(&e))?;
    // Output's equality is constant-time.
    Ok(computed == expected)
}

/// At most one Argon2 work area per core, created on first use and reused.
struct WorkAreas {
    state: Mutex<(Vec<Vec<Block>>, usize)>,
    returned: Condvar,
    max: usize,
}

impl WorkAreas {
    fn global() -> &'static WorkAreas {
        static AREAS: OnceLock<WorkAreas> = OnceLock::new();
        AREAS.get_or_init(|| WorkAreas {
            state: Mutex::new((Vec::new(), 0)),
            returned: Condvar::new(),
            max: std::thread::available_parallelism().map_or(2, usize::from),
        })
    }

    fn take(&self) -> Vec<Block> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(area) = state.0.pop() {
                return area;
            }
            if state.1 < self.max {
                state.1 += 1;
                return Vec::new();
            }
            state = self.returned.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn give_back(&self, area: Vec<Block>) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0.push(area);
        self.returned.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_never_hold_the_password() {
        let h = hash("bayside-pass").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("bayside-pass"));
        assert!(verify(Some(&h), "bayside-pass").unwrap());
        assert!(!verify(Some(&h), "bayside-pasS").unwrap());
        assert!(!verify(None, "no such submitter").unwrap());
        let two = hash_all(&["a", "b", "c"]).unwrap();
        assert_eq!(two.len(), 3);
        assert!(verify(Some(&two[2]), "c").unwrap());
    }
}
