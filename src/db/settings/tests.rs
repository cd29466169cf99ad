//! The tests of resolving: precedence between the flag, `DATABASE_URL` and the `PG*` variables,
//! libpq's defaults, the password file, and the messages for bad values. The helpers at the top
//! resolve a string as `crm` would, and are shared with the tests of parsing
//! ([`conninfo`](crate::db::conninfo)) and of rendering ([`render`](super::render)): a connection
//! string is tested the way users meet it, through [`resolve`](super::resolve).

use super::render::encode;
use super::*;
use crate::error::{Kind, kind_of};
use proptest::prelude::*;
use std::collections::HashMap;
use std::io::Write;

pub(in crate::db) const SOCKETS: &str = "/run/test-sockets";

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

/// Resolves with no home directory, so no password file is read.
pub(in crate::db) fn try_resolve(
    flag: Option<&str>,
    pairs: &[(&str, &str)],
) -> anyhow::Result<Option<ConnSettings>> {
    let env = env_of(pairs);
    Ok(resolve_with(flag, &env, "osuser", None, SOCKETS)?.map(|(s, _)| s))
}

pub(in crate::db) fn settings(flag: Option<&str>, pairs: &[(&str, &str)]) -> ConnSettings {
    try_resolve(flag, pairs).unwrap().expect("settings")
}

pub(in crate::db) fn url(url: &str) -> ConnSettings {
    settings(Some(url), &[])
}

/// The failure's message, after checking that it is a usage failure (exit 2).
pub(in crate::db) fn usage_error(flag: Option<&str>, pairs: &[(&str, &str)]) -> String {
    let err = try_resolve(flag, pairs).expect_err("should fail");
    assert_eq!(kind_of(&err), Some(Kind::Usage), "{err:#}");
    format!("{err:#}")
}

pub(in crate::db) fn url_error(text: &str) -> String {
    usage_error(Some(text), &[])
}

fn defaults(source: Source) -> ConnSettings {
    ConnSettings {
        hosts: vec![SOCKETS.to_owned()],
        ports: vec![5432],
        user: "osuser".to_owned(),
        password: None,
        passwords_by_host: None,
        dbname: "osuser".to_owned(),
        sslmode: SslMode::Prefer,
        sslrootcert: None,
        connect_timeout: Some(Duration::from_secs(10)),
        application_name: Some("crm".to_owned()),
        target_session_attrs: TargetSessionAttrs::Any,
        source,
    }
}

// --- what is configured, and precedence ---

#[test]
fn nothing_configured_is_none() {
    assert_eq!(try_resolve(None, &[]).unwrap(), None);
    // Empty values count as unset, and tuning variables alone choose no server.
    let pairs = [
        ("DATABASE_URL", ""),
        ("PGHOST", ""),
        ("PGSSLMODE", "require"),
        ("PGCONNECT_TIMEOUT", "5"),
        ("PGAPPNAME", "x"),
        ("PGPASSFILE", "/nonexistent"),
    ];
    assert_eq!(try_resolve(None, &pairs).unwrap(), None);
}

#[test]
fn each_server_variable_alone_is_enough() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg_service.conf");
    std::fs::write(&file, "[x]\nhost=h\n").unwrap();
    let dir = dir.path().display().to_string();
    for var in SERVER_VARS {
        if var == "PGSERVICE" {
            let got = settings(None, &[(var, "x"), ("PGSYSCONFDIR", &dir)]);
            assert_eq!(
                (got.source, got.hosts),
                (Source::PgEnv, vec!["h".to_owned()])
            );
            continue;
        }
        let value = if var == "PGPORT" {
            "5433"
        } else if var == "PGHOSTADDR" {
            "10.0.0.1"
        } else {
            "x"
        };
        let got = settings(None, &[(var, value)]);
        assert_eq!(got.source, Source::PgEnv, "{var}");
    }
}

#[test]
fn flag_wins_over_database_url_which_wins_over_pg_variables() {
    let env = [
        ("DATABASE_URL", "postgresql://envhost/envdb"),
        ("PGHOST", "pghost"),
        ("PGDATABASE", "pgdb"),
    ];
    let got = settings(Some("postgresql://flaghost/flagdb"), &env);
    assert_eq!(
        (got.hosts, got.dbname, got.source),
        (
            vec!["flaghost".to_owned()],
            "flagdb".to_owned(),
            Source::Flag
        )
    );
    let got = settings(None, &env);
    assert_eq!(
        (got.hosts, got.dbname, got.source),
        (
            vec!["envhost".to_owned()],
            "envdb".to_owned(),
            Source::DatabaseUrlEnv
        )
    );
    let got = settings(None, &env[1..]);
    assert_eq!(
        (got.hosts, got.dbname, got.source),
        (vec!["pghost".to_owned()], "pgdb".to_owned(), Source::PgEnv)
    );
}

#[test]
fn url_fields_override_pg_variables_and_pg_variables_fill_gaps() {
    let env = [
        ("PGHOST", "pghost"),
        ("PGPORT", "6000"),
        ("PGUSER", "pguser"),
        ("PGPASSWORD", "pgpass"),
        ("PGDATABASE", "pgdb"),
        ("PGSSLMODE", "require"),
        ("PGSSLROOTCERT", "/etc/ca.pem"),
        ("PGCONNECT_TIMEOUT", "30"),
        ("PGAPPNAME", "nightly"),
        ("PGTARGETSESSIONATTRS", "primary"),
    ];
    let full = settings(
        Some(
            "postgresql://u:p@h:7000/d?sslmode=disable&sslrootcert=/r.pem&connect_timeout=5&application_name=a&target_session_attrs=read-write",
        ),
        &env,
    );
    assert_eq!(
        full,
        ConnSettings {
            hosts: vec!["h".into()],
            ports: vec![7000],
            user: "u".into(),
            password: Some("p".into()),
            passwords_by_host: None,
            dbname: "d".into(),
            sslmode: SslMode::Disable,
            sslrootcert: Some("/r.pem".into()),
            connect_timeout: Some(Duration::from_secs(5)),
            application_name: Some("a".into()),
            target_session_attrs: TargetSessionAttrs::ReadWrite,
            source: Source::Flag,
        }
    );
    let sparse = settings(Some("postgresql://h"), &env);
    assert_eq!(
        sparse,
        ConnSettings {
            hosts: vec!["h".into()],
            ports: vec![6000],
            user: "pguser".into(),
            password: Some("pgpass".into()),
            passwords_by_host: None,
            dbname: "pgdb".into(),
            sslmode: SslMode::Require,
            sslrootcert: Some("/etc/ca.pem".into()),
            connect_timeout: Some(Duration::from_secs(30)),
            application_name: Some("nightly".into()),
            target_session_attrs: TargetSessionAttrs::Primary,
            source: Source::Flag,
        }
    );
}

#[test]
fn libpq_defaults() {
    assert_eq!(url("postgresql://"), defaults(Source::Flag));
    assert_eq!(url("postgres://"), defaults(Source::Flag));
    assert_eq!(settings(None, &[("PGUSER", "bob")]).dbname, "bob");
    let got = settings(None, &[("PGUSER", "bob")]);
    assert_eq!((got.user.as_str(), got.source), ("bob", Source::PgEnv));
}

#[test]
fn the_default_socket_directory_is_probed() {
    let dir = default_socket_dir();
    assert!(DEFAULT_SOCKET_DIRS.contains(&dir));
    if Path::new("/var/run/postgresql").is_dir() {
        assert_eq!(dir, "/var/run/postgresql");
    }
    let env = env_of(&[]);
    let (got, _) = resolve(Some("postgresql://"), &env, "me", None)
        .unwrap()
        .unwrap();
    assert_eq!(got.hosts, vec![dir.to_owned()]);
}

#[test]
fn pghostaddr_is_the_host_only_when_pghost_is_unset() {
    assert_eq!(
        settings(None, &[("PGHOSTADDR", "10.1.2.3")]).hosts,
        vec!["10.1.2.3"]
    );
    let both = settings(None, &[("PGHOSTADDR", "10.1.2.3"), ("PGHOST", "db")]);
    assert_eq!(both.hosts, vec!["db"]);
    // A URL naming a host is not redirected by PGHOSTADDR.
    assert_eq!(
        settings(Some("postgresql://urlhost"), &[("PGHOSTADDR", "10.1.2.3")]).hosts,
        vec!["urlhost"]
    );
    assert_eq!(
        url("postgresql:///db?hostaddr=127.0.0.1").hosts,
        vec!["127.0.0.1"]
    );
    assert_eq!(url("postgresql://h/db?hostaddr=127.0.0.1").hosts, vec!["h"]);
    let message = usage_error(None, &[("PGHOSTADDR", "x"), ("PGHOST", "db")]);
    assert_eq!(
        message,
        "invalid PGHOSTADDR \"x\": expected a numeric IP address"
    );
    let message = usage_error(None, &[("PGHOSTADDR", "db.example.com")]);
    assert_eq!(
        message,
        "invalid PGHOSTADDR \"db.example.com\": expected a numeric IP address"
    );
}

#[test]
fn pg_variables_may_list_several_hosts_and_ports() {
    let got = settings(None, &[("PGHOST", "a,b,"), ("PGPORT", "5433,,5434")]);
    assert_eq!(got.hosts, vec!["a", "b", SOCKETS]);
    assert_eq!(got.ports, vec![5433, 5432, 5434]);
    let got = settings(None, &[("PGHOST", "a,b"), ("PGPORT", "5433")]);
    assert_eq!(got.ports, vec![5433]);
}

#[test]
fn connect_timeout_as_libpq() {
    let timeout =
        |value: &str| url(&format!("postgresql://h?connect_timeout={value}")).connect_timeout;
    assert_eq!(timeout("0"), None);
    assert_eq!(timeout("-3"), None);
    assert_eq!(timeout("1"), Some(Duration::from_secs(2)));
    assert_eq!(timeout("2"), Some(Duration::from_secs(2)));
    assert_eq!(timeout("%2045%20"), Some(Duration::from_secs(45)));
    assert_eq!(
        url("postgresql://h").connect_timeout,
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        settings(None, &[("PGHOST", "h"), ("PGCONNECT_TIMEOUT", "0")]).connect_timeout,
        None
    );
}

#[test]
fn the_message_names_the_source() {
    let message = usage_error(None, &[("DATABASE_URL", "postgresql://u:pw@h:abc/db")]);
    assert_eq!(
        message,
        "invalid database URL (from DATABASE_URL): invalid port \"abc\": expected a number from 1 to 65535"
    );
    assert_eq!(
        url_error(""),
        "invalid database URL (from --database-url): the URL is empty"
    );
}

#[test]
fn a_read_url_is_resolved_as_the_primary_s_and_its_messages_name_it() {
    let env = env_of(&[
        ("PGUSER", "reader"),
        ("DATABASE_URL", "postgresql://p/other"),
    ]);
    let (got, _) = resolve_read_url("postgresql://standby:5433/crm", &env, "me", None)
        .expect("a good read URL");
    assert_eq!(got.source, Source::ReadUrl);
    assert_eq!(got.user, "reader");
    assert_eq!(got.place(), "standby:5433/crm");
    let err =
        resolve_read_url("postgresql://u:pw@h:abc/db", &env, "me", None).expect_err("a bad port");
    assert_eq!(kind_of(&err), Some(Kind::Usage));
    assert_eq!(
        format!("{err:#}"),
        "invalid database URL (from --read-url or CRM_READ_URL): invalid port \"abc\": expected a number from 1 to 65535"
    );
}

#[test]
fn bad_pg_variables_are_usage_errors() {
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("PGPORT", "x")],
            "invalid PGPORT \"x\": expected a number from 1 to 65535",
        ),
        (
            &[("PGHOST", "h"), ("PGPORT", "70000")],
            "invalid PGPORT \"70000\": expected a number from 1 to 65535",
        ),
        (
            &[("PGHOST", "h"), ("PGSSLMODE", "on")],
            "invalid PGSSLMODE \"on\": expected one of disable, allow, prefer, require, verify-ca, verify-full",
        ),
        (
            &[("PGHOST", "h"), ("PGCONNECT_TIMEOUT", "10s")],
            "invalid PGCONNECT_TIMEOUT \"10s\": expected a whole number of seconds (0 to wait forever)",
        ),
        (
            &[("PGHOST", "a,b"), ("PGPORT", "1,2,3")],
            "cannot match 3 ports to 2 hosts: expected one port, or one per host (ports from PGPORT, hosts from PGHOST)",
        ),
    ];
    for (pairs, expected) in cases {
        assert_eq!(usage_error(None, pairs), expected);
    }
    // A bad variable that the URL overrides is never read, as in libpq.
    assert_eq!(
        settings(Some("postgresql://h:1/db"), &[("PGPORT", "x")]).ports,
        vec![1]
    );
}

#[test]
fn sslmode_from_str_and_display() {
    for mode in SslMode::ALL {
        assert_eq!(mode.to_string().parse::<SslMode>().unwrap(), mode);
    }
    assert_eq!(SslMode::VerifyFull.to_string(), "verify-full");
    let err = "verify".parse::<SslMode>().unwrap_err();
    assert_eq!(kind_of(&err), Some(Kind::Usage));
    assert_eq!(
        err.to_string(),
        "invalid sslmode \"verify\": expected one of disable, allow, prefer, require, verify-ca, verify-full"
    );
}

// --- the password file ---

struct Home {
    dir: tempfile::TempDir,
}

fn home_with_pgpass(contents: &str) -> Home {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".pgpass");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(contents.as_bytes()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    Home { dir }
}

fn with_home(
    home: &Home,
    flag: Option<&str>,
    pairs: &[(&str, &str)],
) -> (ConnSettings, Vec<String>) {
    let env = env_of(pairs);
    resolve_with(flag, &env, "osuser", Some(home.dir.path()), SOCKETS)
        .unwrap()
        .unwrap()
}

#[test]
fn pgpass_is_used_only_when_no_password_is_given() {
    let home = home_with_pgpass("db.example.com:5432:crm:bob:from-file\n");
    let (got, warnings) = with_home(&home, Some("postgresql://bob@db.example.com/crm"), &[]);
    assert_eq!(got.password.as_deref(), Some("from-file"));
    assert!(warnings.is_empty());
    let (got, _) = with_home(
        &home,
        Some("postgresql://bob:given@db.example.com/crm"),
        &[],
    );
    assert_eq!(got.password.as_deref(), Some("given"));
    let (got, _) = with_home(
        &home,
        Some("postgresql://bob@db.example.com/crm"),
        &[("PGPASSWORD", "env")],
    );
    assert_eq!(got.password.as_deref(), Some("env"));
    let (got, _) = with_home(&home, Some("postgresql://bob@db.example.com:5433/crm"), &[]);
    assert_eq!(got.password, None);
    // The PG* variables alone use the file as well.
    let pairs = [
        ("PGHOST", "db.example.com"),
        ("PGUSER", "bob"),
        ("PGDATABASE", "crm"),
    ];
    assert_eq!(
        with_home(&home, None, &pairs).0.password.as_deref(),
        Some("from-file")
    );
}

#[test]
fn with_several_hosts_the_password_file_is_read_for_each_host() {
    let home = home_with_pgpass("db2:5433:crm:bob:second\ndb3:*:crm:bob:third\n");
    let (got, warnings) = with_home(&home, Some("postgresql://bob@db1,db2:5433,db3/crm"), &[]);
    assert!(warnings.is_empty());
    assert_eq!(got.password, None);
    assert_eq!(
        got.passwords_by_host,
        Some(vec![
            None,
            Some("second".to_owned()),
            Some("third".to_owned())
        ])
    );
    let narrowed: Vec<Option<String>> = (0..3).map(|i| got.one_host(i).password).collect();
    assert_eq!(
        narrowed,
        vec![None, Some("second".to_owned()), Some("third".to_owned())]
    );
    assert_eq!(got.one_host(1).passwords_by_host, None);
    // A password given applies to every host.
    let (got, _) = with_home(&home, Some("postgresql://bob:given@db1,db2:5433/crm"), &[]);
    assert_eq!(got.passwords_by_host, None);
    assert_eq!(got.one_host(1).password.as_deref(), Some("given"));
}

#[test]
fn pgpass_matches_localhost_for_the_default_socket_directory() {
    let home = home_with_pgpass("localhost:5432:crm:bob:local\n/srv/sock:5432:crm:bob:custom\n");
    for dir in ["/var/run/postgresql", "/tmp", SOCKETS] {
        let url = format!("postgresql://bob@/crm?host={dir}");
        assert_eq!(
            with_home(&home, Some(&url), &[]).0.password.as_deref(),
            Some("local"),
            "{dir}"
        );
    }
    assert_eq!(
        with_home(&home, Some("postgresql://bob@/crm"), &[])
            .0
            .password
            .as_deref(),
        Some("local")
    );
    let got = with_home(&home, Some("postgresql://bob@/crm?host=/srv/sock"), &[]).0;
    assert_eq!(got.password.as_deref(), Some("custom"));
}

#[test]
fn pgpassfile_and_passfile_choose_the_file() {
    let home = home_with_pgpass("*:*:*:*:home\n");
    let other = home_with_pgpass("*:*:*:*:other\n");
    let other_path = other.dir.path().join(".pgpass");
    let other_path = other_path.to_str().unwrap();
    let got = with_home(&home, Some("postgresql://h"), &[("PGPASSFILE", other_path)]).0;
    assert_eq!(got.password.as_deref(), Some("other"));
    let url = format!("postgresql://h?passfile={}", encode(other_path));
    assert_eq!(
        with_home(&home, Some(&url), &[]).0.password.as_deref(),
        Some("other")
    );
    assert_eq!(
        with_home(&home, Some("postgresql://h"), &[])
            .0
            .password
            .as_deref(),
        Some("home")
    );
}

#[cfg(unix)]
#[test]
fn pgpass_warnings_are_returned() {
    use std::os::unix::fs::PermissionsExt;
    let home = home_with_pgpass("*:*:*:*:leaked\n");
    let path = home.dir.path().join(".pgpass");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (got, warnings) = with_home(&home, Some("postgresql://h"), &[]);
    assert_eq!(got.password, None);
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("has group or world access"));
}

proptest! {
    #[test]
    fn arbitrary_variables_never_panic(
        host in "[a-z0-9,:/.]{0,12}",
        port in "[0-9,a-]{0,8}",
        timeout in "[0-9-]{0,22}",
    ) {
        let pairs = [("PGHOST", host.as_str()), ("PGPORT", port.as_str()), ("PGCONNECT_TIMEOUT", timeout.as_str())];
        let _ = try_resolve(None, &pairs);
    }

    /// Any value in any variable crm reads, with or without a URL, and a `.pgpass` of any
    /// bytes: an error or settings, never a panic.
    #[test]
    fn any_environment_and_password_file_never_panic(
        values in proptest::collection::vec(any::<String>(), 12),
        url in proptest::option::of(any::<String>()),
        pgpass in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let names = [
            "DATABASE_URL", "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER",
            "PGPASSWORD", "PGSSLMODE", "PGSSLROOTCERT", "PGCONNECT_TIMEOUT", "PGAPPNAME",
            "PGPASSFILE",
        ];
        let home = tempfile::tempdir().unwrap();
        let file = home.path().join(".pgpass");
        std::fs::write(&file, &pgpass).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let mut pairs: Vec<(&str, &str)> = names
            .iter()
            .copied()
            .zip(values.iter().map(String::as_str))
            .collect();
        let env = env_of(&pairs);
        let _ = resolve_with(url.as_deref(), &env, "osuser", Some(home.path()), SOCKETS);
        // Without PGPASSFILE, the home's .pgpass is read.
        pairs.pop();
        let env = env_of(&pairs);
        let _ = resolve_with(url.as_deref(), &env, "osuser", Some(home.path()), SOCKETS);
    }

}

// --- the service file and target_session_attrs ---

/// A service file with `[crm]` and `[broken]`, and the variable pointing at it.
fn service_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("services.conf");
    std::fs::write(
        &path,
        "# crm's servers\n[crm]\nhost=db1,db2\ndbname=from_service\nuser=svc_user\npassword=Svc4Secret\ntarget_session_attrs=read-write\n\n[broken]\nport=abc\n",
    )
    .unwrap();
    let path = path.display().to_string();
    (dir, path)
}

#[test]
fn a_service_ranks_under_the_string_and_over_the_variables() {
    let (_dir, file) = service_file();
    let env = [
        ("PGSERVICEFILE", file.as_str()),
        ("PGUSER", "env_user"),
        ("PGPORT", "6000"),
        ("PGSYSCONFDIR", "/nonexistent"),
    ];
    // Named in a key=value string: the string's dbname wins, the service's user beats PGUSER,
    // and PGPORT fills what neither gives.
    let got = settings(Some("service=crm dbname=from_string"), &env);
    assert_eq!(got.hosts, vec!["db1", "db2"]);
    assert_eq!(got.ports, vec![6000]);
    assert_eq!(
        (got.dbname.as_str(), got.user.as_str()),
        ("from_string", "svc_user")
    );
    assert_eq!(got.password.as_deref(), Some("Svc4Secret"));
    assert_eq!(got.target_session_attrs, TargetSessionAttrs::ReadWrite);
    // Named in a URL.
    let got = settings(Some("postgresql://h/d?service=crm"), &env);
    assert_eq!(
        (got.hosts, got.dbname),
        (vec!["h".to_owned()], "d".to_owned())
    );
    assert_eq!(got.user, "svc_user");
    // PGSERVICE alone chooses a server; the string's service wins over it.
    let mut with_var = env.to_vec();
    with_var.push(("PGSERVICE", "crm"));
    let got = settings(None, &with_var);
    assert_eq!(
        (got.source, got.dbname.as_str()),
        (Source::PgEnv, "from_service")
    );
    let message = usage_error(Some("service=broken"), &with_var);
    assert!(message.contains("service \"broken\""), "{message}");
}

#[test]
fn bad_services_are_usage_errors_naming_the_file_and_the_service() {
    let (_dir, file) = service_file();
    let env = [
        ("PGSERVICEFILE", file.as_str()),
        ("PGSYSCONFDIR", "/nonexistent"),
    ];
    let message = usage_error(Some("service=broken"), &env);
    assert_eq!(
        message,
        format!(
            "invalid port \"abc\" in service \"broken\" of \"{file}\": expected a number from 1 to 65535"
        )
    );
    let mut with_var = env.to_vec();
    with_var.push(("PGSERVICE", "nope"));
    let message = usage_error(None, &with_var);
    assert_eq!(
        message,
        format!(
            "service \"nope\" (from PGSERVICE) is not defined in \"{file}\" or \"/nonexistent/pg_service.conf\": expected a [nope] section"
        )
    );
    let message = usage_error(Some("postgresql://h/d?service=nope"), &env);
    assert!(message.contains("(from --database-url)"), "{message}");
}

#[test]
fn target_session_attrs_as_libpq_14() {
    for (text, attrs) in [
        ("any", TargetSessionAttrs::Any),
        ("read-write", TargetSessionAttrs::ReadWrite),
        ("read-only", TargetSessionAttrs::ReadOnly),
        ("primary", TargetSessionAttrs::Primary),
        ("standby", TargetSessionAttrs::Standby),
        ("prefer-standby", TargetSessionAttrs::PreferStandby),
    ] {
        let got = url(&format!("host=a,b target_session_attrs={text}"));
        assert_eq!(got.target_session_attrs, attrs);
        assert_eq!(attrs.to_string(), text);
    }
    assert_eq!(url("host=a").target_session_attrs, TargetSessionAttrs::Any);
    let got = settings(Some("host=a"), &[("PGTARGETSESSIONATTRS", "standby")]);
    assert_eq!(got.target_session_attrs, TargetSessionAttrs::Standby);
    let message = usage_error(None, &[("PGHOST", "a"), ("PGTARGETSESSIONATTRS", "master")]);
    assert!(
        message.starts_with("invalid PGTARGETSESSIONATTRS \"master\": expected one of any,"),
        "{message}"
    );
    // Narrowed to the host chosen, nothing is left to choose.
    let one = url("postgresql://a:1,b:2/d?target_session_attrs=primary").one_host(1);
    assert_eq!(
        (one.hosts, one.ports, one.target_session_attrs),
        (vec!["b".to_owned()], vec![2], TargetSessionAttrs::Any)
    );
}
