//! A second throwaway cluster that accepts TCP logins only over TLS (`hostssl` in pg_hba.conf,
//! `hostnossl ... reject`), with a certificate for `localhost` signed by a test CA made here with
//! `openssl`, and a second CA that signed nothing, for the tests of sslmode and sslrootcert.
//! Started on first use, once per test process, even under `CRM_TEST_DATABASE_URL` (the server
//! binaries are needed).

use super::cluster::{ServerTools, postgres_account};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const PG_HBA: &str = "\
local     all all              trust
hostssl   all all 127.0.0.1/32 trust
hostssl   all all ::1/128      trust
hostnossl all all 127.0.0.1/32 reject
hostnossl all all ::1/128      reject
";

pub struct TlsServer {
    pub port: u16,
    /// The CA that signed the server's certificate (PEM).
    pub ca: PathBuf,
    /// A CA that signed nothing the server has.
    pub other_ca: PathBuf,
}

impl TlsServer {
    /// A superuser URL to the `postgres` database at `host` with these query parameters.
    pub fn url(&self, host: &str, params: &str) -> String {
        format!(
            "postgresql://postgres@{host}:{}/postgres?{params}",
            self.port
        )
    }
}

pub fn tls_server() -> &'static TlsServer {
    static SERVER: OnceLock<TlsServer> = OnceLock::new();
    SERVER.get_or_init(start)
}

fn start() -> TlsServer {
    let dir = tempfile::Builder::new()
        .prefix("crm-test-tls-cluster-")
        .tempdir()
        .expect("cannot create a temporary folder for the TLS test cluster")
        .keep();
    let pg = ServerTools::find(dir.clone());
    pg.spawn_watchdog();
    pg.initdb();
    pg.configure();

    let certs = dir.join("certs");
    fs::create_dir(&certs).expect("cannot create the certificates folder");
    make_ca(&certs, "ca");
    make_ca(&certs, "other-ca");
    make_server_cert(&certs);
    // The server reads its key and certificate from its data folder, owned by its account.
    let data = pg.data();
    for name in ["server.crt", "server.key"] {
        fs::copy(certs.join(name), data.join(name)).expect("cannot copy the server certificate");
        fs::set_permissions(data.join(name), fs::Permissions::from_mode(0o600)).unwrap();
        if pg.as_postgres {
            let (uid, gid) = postgres_account();
            std::os::unix::fs::chown(data.join(name), Some(uid), Some(gid)).unwrap();
        }
    }
    let conf = "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
                listen_addresses = '127.0.0.1'\n";
    let mut text = fs::read_to_string(data.join("postgresql.conf")).unwrap();
    text.push_str(conf);
    fs::write(data.join("postgresql.conf"), text).unwrap();
    fs::write(data.join("pg_hba.conf"), PG_HBA).unwrap();
    let port = pg.start();
    TlsServer {
        port,
        ca: certs.join("ca.crt"),
        other_ca: certs.join("other-ca.crt"),
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("the TLS tests need openssl (apt-get install openssl): {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=crm test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

/// A certificate for `localhost` only (no IP address), so that `127.0.0.1` is a host name it
/// does not name.
fn make_server_cert(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
    );
}
