//! Login roles of one test's own: roles belong to the whole server, so each is named after the
//! test's database and dropped when the test ends.

use super::{TestDb, server};

pub struct TestRole(pub String);

impl TestRole {
    /// `CREATE ROLE <prefix>_<db> LOGIN <options>`; e.g. options `PASSWORD 'pw' IN ROLE
    /// password_users` for a role that must give its password over TCP.
    pub fn create(db: &TestDb, prefix: &str, options: &str) -> TestRole {
        let role = TestRole(format!("{prefix}_{}", &db.name[2..]));
        server()
            .admin_client()
            .batch_execute(&format!("CREATE ROLE {} LOGIN {options}", role.0))
            .unwrap_or_else(|e| panic!("cannot create role {}: {e}", role.0));
        role
    }
}

impl Drop for TestRole {
    fn drop(&mut self) {
        let _ = server()
            .admin_client()
            .batch_execute(&format!("DROP ROLE IF EXISTS {}", self.0));
    }
}
