//! Submitter passwords: argon2id hashes in PHC string form (algorithm, parameters and salt travel
//! with the hash, so the parameters can be raised later without invalidating stored hashes).

use crate::StoreError;
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::OnceLock;

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
    let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
    Ok(ok && known)
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
