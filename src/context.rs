//! What every command receives: the output settings, the acting user, and the database,
//! connected on first use (so that `crm completions` or `crm db local url` never need one).

use crate::cli::GlobalArgs;
use crate::db::Database;
use crate::output::Output;
use anyhow::Result;
use tokio::sync::OnceCell;

pub struct Context {
    pub out: Output,
    /// `--as` / `CRM_USER`: the CRM user recorded as the author of what a command creates.
    pub acting_user: Option<String>,
    database_url: Option<String>,
    db: OnceCell<Database>,
}

impl Context {
    pub fn new(global: &GlobalArgs) -> Self {
        crate::db::set_log_sql(global.verbose > 0);
        crate::db::set_lock_timeout_ms(global.lock_timeout);
        Context {
            out: Output::new(global.format, global.quiet),
            acting_user: global.acting_user.clone(),
            database_url: global.database_url.clone(),
            db: OnceCell::new(),
        }
    }

    /// The database, connected on first use.
    pub async fn db(&self) -> Result<&Database> {
        self.db
            .get_or_try_init(|| Database::open(self.database_url.as_deref(), &self.out))
            .await
    }
}
