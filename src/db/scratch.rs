//! A scratch database: created for one piece of work on the server of a [`Database`] and dropped
//! afterwards on every path, by [`Scratch::drop_now`] when the work ends, or by its `Drop` when
//! the work's future is abandoned (an error that skipped `drop_now`, or Ctrl-C, which drops the
//! whole command): a database that must not outlive the run is removed even then.

use super::{Database, quote_identifier};
use anyhow::{Context as _, Result};
use std::hash::{BuildHasher, RandomState};

/// A database that exists only for the current run.
pub struct Scratch<'a> {
    db: &'a Database,
    name: String,
    dropped: bool,
}

impl<'a> Scratch<'a> {
    /// Creates `<prefix>_<random>` from `template0` on `db`'s server. Needs CREATEDB: the error
    /// says so when the server refuses (SQLSTATE 42501).
    pub async fn create(db: &'a Database, prefix: &str) -> Result<Scratch<'a>> {
        let name = format!(
            "{prefix}_{:016x}",
            RandomState::new().hash_one(std::process::id())
        );
        let admin = db.connect_to(&db.settings.dbname).await?;
        let create = format!(
            "CREATE DATABASE {} TEMPLATE template0",
            quote_identifier(&name)
        );
        super::batch_execute(&admin, &create)
            .await
            .with_context(|| format!("cannot create the scratch database \"{name}\""))?;
        Ok(Scratch {
            db,
            name,
            dropped: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection to the scratch database.
    pub async fn connect(&self) -> Result<tokio_postgres::Client> {
        self.db.connect_to(&self.name).await
    }

    /// Drops it now, ending any session still in it.
    pub async fn drop_now(mut self) -> Result<()> {
        self.dropped = true;
        drop_database(self.db, &self.name).await
    }
}

impl Drop for Scratch<'_> {
    /// The async runtime that owns our connections may be the one being torn down (Ctrl-C):
    /// drop the database from a thread of its own, with a runtime and a connection of its own,
    /// and wait for it, so that the process does not end first.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (db, name) = (self.db, self.name.as_str());
        let outcome = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .context("cannot start a runtime to drop it")?;
                    runtime.block_on(drop_database(db, name))
                })
                .join()
        });
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!(
                "warning: the scratch database \"{name}\" was left behind ({e:#}); drop it: \
                 DROP DATABASE {} WITH (FORCE);",
                quote_identifier(name)
            ),
            Err(_) => eprintln!(
                "warning: the scratch database \"{name}\" may be left behind; drop it: \
                 DROP DATABASE IF EXISTS {} WITH (FORCE);",
                quote_identifier(name)
            ),
        }
    }
}

async fn drop_database(db: &Database, name: &str) -> Result<()> {
    let admin = db.connect_to(&db.settings.dbname).await?;
    let sql = format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_identifier(name)
    );
    super::batch_execute(&admin, &sql)
        .await
        .with_context(|| format!("cannot drop the scratch database \"{name}\""))
}
