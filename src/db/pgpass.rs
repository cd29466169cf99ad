//! The password file (`~/.pgpass`, or `PGPASSFILE`), found and read exactly as libpq reads it, so
//! that one file serves `psql`, `pg_dump` and `crm` alike and cron jobs keep passwords out of
//! crontabs. It only looks a password up; deciding when to look is `settings`'s business.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Where libpq would look for the password file: `PGPASSFILE` if set and not empty, else
/// `.pgpass` in the home directory (`None` when there is no home directory either).
pub fn default_path(env: &dyn Fn(&str) -> Option<String>, home: Option<&Path>) -> Option<PathBuf> {
    match env("PGPASSFILE") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => home.map(|home| home.join(".pgpass")),
    }
}

/// The outcome of a look-up: the password, if a line matched, and what the user should be told
/// about the file (libpq prints these as `WARNING:` lines on stderr).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup {
    pub password: Option<String>,
    pub warnings: Vec<String>,
}

/// Looks up the password for `host`, `port`, `dbname` and `user` in the file at `path`.
///
/// `host` is the string to match: the host name or address connected to, or `localhost` for a
/// Unix socket in the default socket directory (the caller knows which applies). The first
/// matching line wins, even when its password is empty (libpq then sends no password at all).
pub fn lookup(path: &Path, host: &str, port: u16, dbname: &str, user: &str) -> Lookup {
    let mut warnings = Vec::new();
    let password = match open_checked(path, &mut warnings) {
        Some(file) => find(
            file,
            path,
            [host, &port.to_string(), dbname, user],
            &mut warnings,
        ),
        None => None,
    };
    Lookup { password, warnings }
}

/// Opens the file if libpq would read it. A missing file is silently nothing, as in libpq: most
/// people have none.
fn open_checked(path: &Path, warnings: &mut Vec<String>) -> Option<File> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return None,
        Err(err) => {
            warnings.push(format!(
                "password file \"{}\" cannot be read: {err}",
                path.display()
            ));
            return None;
        }
    };
    if !metadata.is_file() {
        warnings.push(format!(
            "password file \"{}\" is not a plain file",
            path.display()
        ));
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // libpq refuses a file others can read, rather than use a leaked secret; so do we, with
        // libpq's own words so that search engines find the fix.
        if metadata.permissions().mode() & 0o077 != 0 {
            warnings.push(format!(
                "password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                path.display()
            ));
            return None;
        }
    }
    match File::open(path) {
        Ok(file) => Some(file),
        Err(err) => {
            warnings.push(format!(
                "password file \"{}\" cannot be read: {err}",
                path.display()
            ));
            None
        }
    }
}

/// Scans the file line by line for the first line whose four key fields match `keys`.
fn find(file: File, path: &Path, keys: [&str; 4], warnings: &mut Vec<String>) -> Option<String> {
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(err) => {
                warnings.push(format!(
                    "password file \"{}\" cannot be read: {err}",
                    path.display()
                ));
                return None;
            }
        }
        // libpq strips every trailing CR and LF, and treats '#' only in the first column as a
        // comment.
        let mut end = line.len();
        while end > 0 && matches!(line[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        let text = &line[..end];
        if text.is_empty() || text[0] == b'#' {
            continue;
        }
        if let Some(password) = match_line(text, keys) {
            return (!password.is_empty()).then_some(password);
        }
    }
}

/// The password of `line` if its four key fields match `keys`, else `None`.
fn match_line(line: &[u8], keys: [&str; 4]) -> Option<String> {
    let mut rest = line;
    for key in keys {
        rest = match_field(rest, key.as_bytes())?;
    }
    Some(unescape_password(rest))
}

/// Matches one `:`-terminated field against `key` and returns what follows its colon, as
/// libpq's `pwdfMatchesString` does: `*` matches anything only as the whole field, and a
/// backslash makes the next byte literal (so `\*` is a literal star and `\:` a literal colon).
fn match_field<'a>(field: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    if field.starts_with(b"*:") {
        return Some(&field[2..]);
    }
    let mut i = 0;
    let mut k = 0;
    while i < field.len() {
        let escaped = field[i] == b'\\';
        if escaped {
            i += 1;
            if i == field.len() {
                return None;
            }
        }
        if field[i] == b':' && !escaped && k == key.len() {
            return Some(&field[i + 1..]);
        }
        if k == key.len() || field[i] != key[k] {
            return None;
        }
        i += 1;
        k += 1;
    }
    // A line that ends before the field's colon has too few fields.
    None
}

/// The password field up to the next unescaped colon (libpq drops anything after it), with
/// backslash escapes removed. A lone trailing backslash is kept, as libpq keeps it.
fn unescape_password(field: &[u8]) -> String {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() && field[i] != b':' {
        if field[i] == b'\\' && i + 1 < field.len() {
            i += 1;
        }
        out.push(field[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    fn file_with(contents: &[u8], mode: u32) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(contents).unwrap();
        file.flush().unwrap();
        set_mode(file.path(), mode);
        file
    }

    #[cfg(unix)]
    fn set_mode(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[cfg(not(unix))]
    fn set_mode(_path: &Path, _mode: u32) {}

    fn password_in(contents: &str, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
        let file = file_with(contents.as_bytes(), 0o600);
        let found = lookup(file.path(), host, port, db, user);
        assert_eq!(found.warnings, Vec::<String>::new());
        found.password
    }

    #[test]
    fn exact_match() {
        let contents = "db.example.com:5432:crm:bob:s3cret\n";
        assert_eq!(
            password_in(contents, "db.example.com", 5432, "crm", "bob").as_deref(),
            Some("s3cret")
        );
        assert_eq!(
            password_in(contents, "db.example.com", 5433, "crm", "bob"),
            None
        );
        assert_eq!(
            password_in(contents, "db.example.com", 5432, "crm", "alice"),
            None
        );
        assert_eq!(password_in(contents, "other", 5432, "crm", "bob"), None);
        assert_eq!(
            password_in(contents, "db.example.com", 5432, "crm2", "bob"),
            None
        );
        // A prefix of a field is not a match.
        assert_eq!(
            password_in(contents, "db.example", 5432, "crm", "bob"),
            None
        );
    }

    #[test]
    fn wildcard_match() {
        let contents = "*:*:*:bob:any\n";
        assert_eq!(
            password_in(contents, "h", 1, "d", "bob").as_deref(),
            Some("any")
        );
        assert_eq!(password_in(contents, "h", 1, "d", "eve"), None);
        // A star is a wildcard only as the whole field.
        assert_eq!(password_in("h*:*:*:*:p\n", "hx", 1, "d", "u"), None);
        assert_eq!(
            password_in("h*:*:*:*:p\n", "h*", 1, "d", "u").as_deref(),
            Some("p")
        );
        // An escaped star is a literal star.
        assert_eq!(password_in("\\*:*:*:*:p\n", "hx", 1, "d", "u"), None);
        assert_eq!(
            password_in("\\*:*:*:*:p\n", "*", 1, "d", "u").as_deref(),
            Some("p")
        );
    }

    #[test]
    fn first_match_wins() {
        let contents = "*:*:*:bob:wild\nlocalhost:5432:crm:bob:exact\n";
        assert_eq!(
            password_in(contents, "localhost", 5432, "crm", "bob").as_deref(),
            Some("wild")
        );
        let contents = "localhost:5432:crm:bob:exact\n*:*:*:bob:wild\n";
        assert_eq!(
            password_in(contents, "localhost", 5432, "crm", "bob").as_deref(),
            Some("exact")
        );
    }

    #[test]
    fn an_empty_password_on_the_first_match_shadows_later_lines() {
        let contents = "h:1:d:u:\nh:1:d:u:later\n";
        assert_eq!(password_in(contents, "h", 1, "d", "u"), None);
    }

    #[test]
    fn escaped_colons_and_backslashes() {
        let contents = "fe80\\:\\:1:5432:crm:bob:pa\\:ss\\\\word\n";
        assert_eq!(
            password_in(contents, "fe80::1", 5432, "crm", "bob").as_deref(),
            Some("pa:ss\\word")
        );
        // An unescaped colon ends the password, as in libpq.
        assert_eq!(
            password_in("h:1:d:u:ab:cd\n", "h", 1, "d", "u").as_deref(),
            Some("ab")
        );
        // An escaped backslash before a colon leaves that colon a separator.
        assert_eq!(
            password_in("a\\\\:1:d:u:p\n", "a\\", 1, "d", "u").as_deref(),
            Some("p")
        );
        // A lone trailing backslash is kept.
        assert_eq!(
            password_in("h:1:d:u:p\\\n", "h", 1, "d", "u").as_deref(),
            Some("p\\")
        );
    }

    #[test]
    fn comments_blank_lines_and_short_lines_are_skipped() {
        let contents = "# h:1:d:u:commented\n\n\nh:1:d:u\nh:1:d:u:real\n";
        assert_eq!(
            password_in(contents, "h", 1, "d", "u").as_deref(),
            Some("real")
        );
        // A comment whose first field would match is still a comment.
        assert_eq!(password_in("#h:1:d:u:p\n", "#h", 1, "d", "u"), None);
    }

    #[test]
    fn crlf_line_endings() {
        let contents = "h:1:d:u:first\r\nh:2:d:u:second\r\n";
        assert_eq!(
            password_in(contents, "h", 1, "d", "u").as_deref(),
            Some("first")
        );
        assert_eq!(
            password_in(contents, "h", 2, "d", "u").as_deref(),
            Some("second")
        );
        // The last line needs no line ending at all.
        assert_eq!(
            password_in("h:1:d:u:last", "h", 1, "d", "u").as_deref(),
            Some("last")
        );
    }

    #[test]
    fn invalid_utf8_does_not_stop_the_search() {
        let file = file_with(b"\xff\xfe:1:d:u:x\nh:1:d:u:p\xffq\n", 0o600);
        let found = lookup(file.path(), "h", 1, "d", "u");
        assert_eq!(found.password.as_deref(), Some("p\u{fffd}q"));
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_ignored_with_libpqs_warning() {
        let file = file_with(b"*:*:*:*:leaked\n", 0o644);
        let found = lookup(file.path(), "h", 1, "d", "u");
        assert_eq!(found.password, None);
        assert_eq!(
            found.warnings,
            vec![format!(
                "password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                file.path().display()
            )]
        );
        let file = file_with(b"*:*:*:*:leaked\n", 0o640);
        assert_eq!(lookup(file.path(), "h", 1, "d", "u").password, None);
    }

    #[test]
    fn a_0600_file_is_used() {
        let file = file_with(b"*:*:*:*:fine\n", 0o600);
        let found = lookup(file.path(), "h", 1, "d", "u");
        assert_eq!(found.password.as_deref(), Some("fine"));
        assert!(found.warnings.is_empty());
        let file = file_with(b"*:*:*:*:fine\n", 0o400);
        assert_eq!(
            lookup(file.path(), "h", 1, "d", "u").password.as_deref(),
            Some("fine")
        );
    }

    #[test]
    fn a_missing_file_is_silently_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let found = lookup(&dir.path().join("absent"), "h", 1, "d", "u");
        assert_eq!(found, Lookup::default());
    }

    #[test]
    fn an_unreadable_file_gives_a_warning() {
        // Root reads any file whatever its mode, so a path through a plain file stands in for an
        // unreadable one.
        let file = file_with(b"", 0o600);
        let path = file.path().join(".pgpass");
        let found = lookup(&path, "h", 1, "d", "u");
        assert_eq!(found.password, None);
        assert_eq!(found.warnings.len(), 1);
        assert!(
            found.warnings[0].starts_with(&format!(
                "password file \"{}\" cannot be read: ",
                path.display()
            )),
            "{:?}",
            found.warnings
        );
    }

    #[test]
    fn a_directory_is_not_a_plain_file() {
        let dir = tempfile::tempdir().unwrap();
        let found = lookup(dir.path(), "h", 1, "d", "u");
        assert_eq!(found.password, None);
        assert_eq!(
            found.warnings,
            vec![format!(
                "password file \"{}\" is not a plain file",
                dir.path().display()
            )]
        );
    }

    #[test]
    fn default_path_prefers_pgpassfile() {
        let home = Path::new("/home/bob");
        let set = |name: &str| (name == "PGPASSFILE").then(|| "/etc/crm/pgpass".to_string());
        assert_eq!(
            default_path(&set, Some(home)),
            Some(PathBuf::from("/etc/crm/pgpass"))
        );
        let empty = |name: &str| (name == "PGPASSFILE").then(String::new);
        assert_eq!(
            default_path(&empty, Some(home)),
            Some(PathBuf::from("/home/bob/.pgpass"))
        );
        let unset = |_: &str| None;
        assert_eq!(
            default_path(&unset, Some(home)),
            Some(PathBuf::from("/home/bob/.pgpass"))
        );
        assert_eq!(default_path(&unset, None), None);
    }

    proptest! {
        #[test]
        fn arbitrary_contents_never_panic(
            contents in proptest::collection::vec(any::<u8>(), 0..512),
            host in "[a-z*:\\\\]{0,4}",
            user in "[a-z*:\\\\]{0,4}",
            port in any::<u16>(),
        ) {
            let file = file_with(&contents, 0o600);
            let _ = lookup(file.path(), &host, port, "d", &user);
        }

        /// Any text in the file and in every key looked up, including `*`, `:` and `\\`.
        #[test]
        fn arbitrary_keys_never_panic(
            contents in any::<String>(),
            keys in proptest::collection::vec(any::<String>(), 3),
            port in any::<u16>(),
        ) {
            let file = file_with(contents.as_bytes(), 0o600);
            let _ = lookup(file.path(), &keys[0], port, &keys[1], &keys[2]);
        }

        #[test]
        fn structured_contents_never_panic(
            contents in "([a-z*:\\\\#\r\n]{0,12}\n){0,8}",
        ) {
            let file = file_with(contents.as_bytes(), 0o600);
            let _ = lookup(file.path(), "a", 1, "b", "c");
        }
    }
}
