//! Schema migrations, embedded in the binary: one directory per dialect
//! (`migrations/sqlite`, `migrations/postgres`) with the same versions and the same meaning.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use super::Backend;

/// (version, description, SQL) per dialect.
const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "web console",
        include_str!("../../migrations/sqlite/0002_web_console.sql"),
    ),
    (
        3,
        "private_key_jwt clients",
        include_str!("../../migrations/sqlite/0003_private_key_jwt.sql"),
    ),
    (
        4,
        "prompts and resources",
        include_str!("../../migrations/sqlite/0004_prompts_and_resources.sql"),
    ),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "web console",
        include_str!("../../migrations/postgres/0002_web_console.sql"),
    ),
    (
        3,
        "private_key_jwt clients",
        include_str!("../../migrations/postgres/0003_private_key_jwt.sql"),
    ),
    (
        4,
        "prompts and resources",
        include_str!("../../migrations/postgres/0004_prompts_and_resources.sql"),
    ),
];

#[derive(Debug)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// The migrator for `backend`.
pub(super) async fn migrator(backend: Backend) -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded(match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialects_have_the_same_versions() {
        let v = |m: &[(i64, &str, &str)]| {
            m.iter()
                .map(|(v, d, _)| (*v, d.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(v(SQLITE), v(POSTGRES));
    }

    #[test]
    fn both_dialects_create_the_same_tables() {
        let tables = |m: &[(i64, &str, &str)]| {
            m.iter()
                .flat_map(|(_, _, sql)| sql.lines())
                .filter_map(|l| l.strip_prefix("CREATE TABLE "))
                .map(|l| l.split_whitespace().next().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(tables(SQLITE), tables(POSTGRES));
        assert!(tables(SQLITE).contains(&"audit_log".to_owned()));
    }
}
