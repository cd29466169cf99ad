//! sslmode and sslrootcert as libpq documents them, against a server that takes TCP logins only
//! over TLS with a certificate for `localhost` signed by a test CA.

use crate::harness::{crm, tls_server};

/// `db migrate status` reads only the catalog: a command that must connect and change nothing.
fn status(url: &str) -> crate::harness::Output {
    crm()
        .args(["--database-url", url, "db", "migrate", "status"])
        .run()
}

#[test]
fn verify_full_with_the_right_ca_and_host_name_connects() {
    let tls = tls_server();
    let url = tls.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", tls.ca.display()),
    );
    status(&url).assert_success();
}

#[test]
fn verify_full_with_another_ca_exits_4_saying_the_certificate_is_not_trusted() {
    let tls = tls_server();
    let url = tls.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", tls.other_ca.display()),
    );
    status(&url)
        .assert_code(4)
        .assert_stderr_contains("certificate verify failed");
}

#[test]
fn verify_full_with_a_host_name_the_certificate_does_not_name_exits_4() {
    let tls = tls_server();
    let url = tls.url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", tls.ca.display()),
    );
    status(&url)
        .assert_code(4)
        .assert_stderr_contains("127.0.0.1");
    let out = status(&url);
    // OpenSSL says "IP address mismatch" for an address, "hostname mismatch" for a name.
    assert!(out.stderr.contains("mismatch"), "{}", out.stderr);
}

#[test]
fn verify_ca_checks_the_chain_but_not_the_host_name() {
    let tls = tls_server();
    let right = tls.url(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={}", tls.ca.display()),
    );
    status(&right).assert_success();
    let wrong = tls.url(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={}", tls.other_ca.display()),
    );
    status(&wrong)
        .assert_code(4)
        .assert_stderr_contains("certificate verify failed");
}

#[test]
fn require_and_prefer_encrypt_without_verifying_when_no_root_certificate_is_given() {
    let tls = tls_server();
    // The server refuses logins without TLS, so success means the connection was encrypted.
    status(&tls.url("127.0.0.1", "sslmode=require")).assert_success();
    status(&tls.url("127.0.0.1", "sslmode=prefer")).assert_success();
}

#[test]
fn require_with_a_root_certificate_verifies_the_chain_as_libpq_does() {
    let tls = tls_server();
    let url = tls.url(
        "localhost",
        &format!("sslmode=require&sslrootcert={}", tls.other_ca.display()),
    );
    status(&url).assert_code(4);
}

#[test]
fn sslmode_disable_against_a_server_that_requires_tls_exits_4() {
    let tls = tls_server();
    status(&tls.url("127.0.0.1", "sslmode=disable"))
        .assert_code(4)
        .assert_stderr_contains("no encryption");
}

#[test]
fn pgsslmode_and_pgsslrootcert_are_read_from_the_environment() {
    let tls = tls_server();
    let url = tls.url("localhost", "");
    let url = url.trim_end_matches('?');
    crm()
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", &tls.ca)
        .args(["--database-url", url, "db", "migrate", "status"])
        .run()
        .assert_success();
    crm()
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", &tls.other_ca)
        .args(["--database-url", url, "db", "migrate", "status"])
        .run()
        .assert_code(4)
        .assert_stderr_contains("certificate verify failed");
    crm()
        .env("PGSSLMODE", "disable")
        .args(["--database-url", url, "db", "migrate", "status"])
        .run()
        .assert_code(4);
}

#[test]
fn verify_full_without_any_root_certificate_is_bad_usage_naming_sslrootcert() {
    let tls = tls_server();
    status(&tls.url("localhost", "sslmode=verify-full"))
        .assert_code(2)
        .assert_stderr_contains("sslrootcert");
}
