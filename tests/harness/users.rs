//! CRM users a test starts from, made the two ways the tests make them: with SQL, as the original
//! system (or a test's "given") would have left them, and through the real `crm users create`.

use super::crm::Output;
use super::database::{TestDb, label_type};

/// A user made with SQL, as the original system (or a test's "given") would have left it, with
/// fixed timestamps and a hash nobody's password matches; returns its id.
pub fn insert_user(db: &TestDb, first: &str, last: &str, email: &str, role: &str) -> i32 {
    let role_type = label_type(db, "Users", "role");
    db.client()
        .query_one(
            &format!(
                r#"INSERT INTO "Users" ("firstName", "lastName", "email", "password", "role", "createdAt", "updatedAt")
                   VALUES ($1, $2, $3, 'not a hash', $4::text::{role_type}, '2025-07-01 09:30:00+00', '2025-07-02 10:00:00.25+00')
                   RETURNING "id""#
            ),
            &[&first, &last, &email, &role],
        )
        .expect("insert a user")
        .get(0)
}

/// `crm users create ARGS` with the password on stdin, at bcrypt cost 10 (crm's default, 12,
/// takes four times as long and is tested on its own).
pub fn create_user(db: &TestDb, args: &[&str], password: &str) -> Output {
    db.crm()
        .args(["users", "create", "--password-stdin"])
        .args(args)
        .env("CRM_BCRYPT_COST", "10")
        .stdin(format!("{password}\n"))
        .run()
}
