//! Versioned schema migrations: SQL files embedded in the binary, applied in order on open, each
//! recorded in `schema_migrations` in the same database transaction as its changes, so a
//! migration is applied whole or not at all, and opening an up-to-date database changes nothing.

/// One schema step.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const SQLITE: &[Migration] = &[
    Migration { version: 1, name: "initial", sql: include_str!("../migrations/sqlite/0001_initial.sql") },
    Migration { version: 2, name: "connectivity", sql: include_str!("../migrations/sqlite/0002_connectivity.sql") },
    Migration { version: 3, name: "compliance", sql: include_str!("../migrations/sqlite/0003_compliance.sql") },
    Migration { version: 4, name: "desktop", sql: include_str!("../migrations/sqlite/0004_desktop.sql") },
    Migration { version: 5, name: "provider_users", sql: include_str!("../migrations/sqlite/0005_provider_users.sql") },
    Migration { version: 6, name: "batch_results", sql: include_str!("../migrations/sqlite/0006_batch_results.sql") },
    Migration {
        version: 7,
        name: "beneficiary_by_number",
        sql: include_str!("../migrations/sqlite/0007_beneficiary_by_number.sql"),
    },
];

pub const POSTGRES: &[Migration] = &[
    Migration { version: 1, name: "initial", sql: include_str!("../migrations/postgres/0001_initial.sql") },
    Migration { version: 2, name: "connectivity", sql: include_str!("../migrations/postgres/0002_connectivity.sql") },
    Migration { version: 3, name: "compliance", sql: include_str!("../migrations/postgres/0003_compliance.sql") },
    Migration { version: 4, name: "desktop", sql: include_str!("../migrations/postgres/0004_desktop.sql") },
    Migration {
        version: 5,
        name: "provider_users",
        sql: include_str!("../migrations/postgres/0005_provider_users.sql"),
    },
    Migration { version: 6, name: "batch_results", sql: include_str!("../migrations/postgres/0006_batch_results.sql") },
    Migration {
        version: 7,
        name: "beneficiary_by_number",
        sql: include_str!("../migrations/postgres/0007_beneficiary_by_number.sql"),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_backends_agree() {
        for list in [SQLITE, POSTGRES] {
            for (i, m) in list.iter().enumerate() {
                assert_eq!(m.version, i as i64 + 1, "{}", m.name);
            }
        }
        let names = |l: &[Migration]| l.iter().map(|m| m.name).collect::<Vec<_>>();
        assert_eq!(names(SQLITE), names(POSTGRES));
    }
}
