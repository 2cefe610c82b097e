//! A small blocking connection pool: a few connections, created on demand, handed to one caller
//! at a time. Both backends need only this much, and it keeps the dependency list short.

use crate::StoreError;
use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, PoisonError};

type Make<C> = Box<dyn Fn() -> Result<C, StoreError> + Send + Sync>;
type Healthy<C> = Box<dyn Fn(&mut C) -> bool + Send + Sync>;

pub struct Pool<C> {
    state: Mutex<State<C>>,
    returned: Condvar,
    max: usize,
    make: Make<C>,
    healthy: Healthy<C>,
}

struct State<C> {
    idle: Vec<C>,
    /// Connections in existence, idle or lent.
    open: usize,
    /// Callers waiting for a connection to come back. A connection given back wakes one only
    /// when there is one: `Condvar::notify_one` is a system call even when nobody waits, and
    /// the embedded store lends a connection per request.
    waiting: usize,
}

impl<C> Pool<C> {
    /// A pool of at most `max` connections made by `make`; `healthy` drops broken ones (a
    /// PostgreSQL connection whose server went away) instead of lending them again.
    pub fn new(
        max: usize,
        make: impl Fn() -> Result<C, StoreError> + Send + Sync + 'static,
        healthy: impl Fn(&mut C) -> bool + Send + Sync + 'static,
    ) -> Pool<C> {
        Pool {
            state: Mutex::new(State { idle: Vec::new(), open: 0, waiting: 0 }),
            returned: Condvar::new(),
            max: max.max(1),
            make: Box::new(make),
            healthy: Box::new(healthy),
        }
    }

    /// Lends a connection, waiting for one to come back when all are lent.
    pub fn get(&self) -> Result<Pooled<'_, C>, StoreError> {
        // A panic while holding the lock cannot leave the idle list inconsistent (push and pop
        // are atomic), so a poisoned lock is used as it is.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(mut conn) = state.idle.pop() {
                if (self.healthy)(&mut conn) {
                    return Ok(Pooled { pool: self, conn: Some(conn) });
                }
                state.open -= 1;
                continue;
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match (self.make)() {
                    Ok(conn) => Ok(Pooled { pool: self, conn: Some(conn) }),
                    Err(e) => {
                        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                        state.open -= 1;
                        if state.waiting > 0 {
                            self.returned.notify_one();
                        }
                        Err(e)
                    }
                };
            }
            state.waiting += 1;
            state = self.returned.wait(state).unwrap_or_else(PoisonError::into_inner);
            state.waiting -= 1;
        }
    }

    fn give_back(&self, conn: C) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.idle.push(conn);
        // Told under the lock: a caller counted as waiting is inside `wait`, so it hears this.
        if state.waiting > 0 {
            self.returned.notify_one();
        }
    }
}

/// A lent connection; it goes back to the pool when dropped.
pub struct Pooled<'a, C> {
    pool: &'a Pool<C>,
    conn: Option<C>,
}

impl<C> Deref for Pooled<'_, C> {
    type Target = C;
    fn deref(&self) -> &C {
        // `conn` is only taken by `drop`.
        self.conn.as_ref().unwrap_or_else(|| unreachable!("a pooled connection is present until dropped"))
    }
}

impl<C> DerefMut for Pooled<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn.as_mut().unwrap_or_else(|| unreachable!("a pooled connection is present until dropped"))
    }
}

impl<C> Drop for Pooled<'_, C> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.give_back(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn lends_at_most_max_and_reuses() {
        let made = Arc::new(AtomicUsize::new(0));
        let m = made.clone();
        let pool = Arc::new(Pool::new(2, move || Ok(m.fetch_add(1, Ordering::SeqCst)), |_| true));
        std::thread::scope(|s| {
            for _ in 0..8 {
                let pool = pool.clone();
                s.spawn(move || {
                    for _ in 0..100 {
                        let c = pool.get().unwrap();
                        assert!(*c < 2);
                    }
                });
            }
        });
        assert!((1..=2).contains(&made.load(Ordering::SeqCst)));
    }

    #[test]
    fn unhealthy_connections_are_replaced() {
        let made = Arc::new(AtomicUsize::new(0));
        let m = made.clone();
        let pool = Pool::new(1, move || Ok(m.fetch_add(1, Ordering::SeqCst)), |c: &mut usize| *c != 0);
        // 0 is "unhealthy": it is dropped when lent again, and 1 made.
        drop(pool.get().unwrap());
        assert_eq!(*pool.get().unwrap(), 1);
    }
}
