//! MySQL and MariaDB: which of the two dbtest talks to, and one function per place where they
//! differ. Everything else dbtest sends is SQL that both accept (MariaDB 10.6+, MySQL 8.0.16+);
//! the `information_schema` columns it reads are checked against both manuals by this module's
//! tests (`catalog.tsv`).
//!
//! The server is identified once per process, before the first test, from `VERSION()` and
//! `@@version_comment`; a server that cannot be identified is an error, never a guess.

use sqlx::mysql::MySqlConnection;
use sqlx::Row;

use crate::compat::text;

/// The two server families dbtest supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    MariaDb,
    MySql,
}

/// What dbtest knows of the server, read once per process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Server {
    pub flavor: Flavor,
    /// Major, minor, patch (a patch that is not a number, as in Aurora's `8.0.mysql_aurora.3.05`,
    /// is 0, and `patch_known` is false).
    pub version: (u32, u32, u32),
    pub patch_known: bool,
    /// `VERSION()` as the server said it, for messages.
    pub version_text: String,
    /// `@@max_connections`.
    pub max_connections: u32,
    /// The `SET SESSION` statement that puts a session of dbtest's back to the settings it
    /// connected with (`sql_mode`, character set, collation, time zone, foreign key checks), as
    /// constants read from this process's first session. A clone script ends with it: saved in
    /// user variables instead, they would be anybody's to change, from a trigger that fires in
    /// this session while the script copies rows.
    pub restore_session: String,
}

/// The oldest versions dbtest is built for.
const OLDEST_MARIADB: (u32, u32, u32) = (10, 6, 0);
const OLDEST_MYSQL: (u32, u32, u32) = (8, 0, 16);

impl Server {
    /// Identifies the server from what `VERSION()` and `@@version_comment` say.
    pub(crate) fn identify(
        version: &str,
        comment: &str,
        max_connections: u32,
    ) -> Result<Server, String> {
        let mariadb = [version, comment]
            .iter()
            .any(|s| s.to_ascii_lowercase().contains("mariadb"));
        // MariaDB 10 servers behind some proxies still say `5.5.5-10.x.y-MariaDB`.
        let numbers = match version.strip_prefix("5.5.5-") {
            Some(rest) if mariadb => rest,
            _ => version,
        };
        let mut parts = numbers.split(['.', '-', '+', '_']);
        let mut number = || -> Option<u32> {
            let part = parts.next().unwrap_or("");
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        };
        let unknown = || {
            format!(
                "cannot tell which server this is: VERSION() = {version:?} does not start with a version number"
            )
        };
        let major = number().ok_or_else(unknown)?;
        let minor = number().ok_or_else(unknown)?;
        let patch = number();
        let flavor = if mariadb {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        };
        Ok(Server {
            flavor,
            version: (major, minor, patch.unwrap_or(0)),
            patch_known: patch.is_some(),
            version_text: version.to_owned(),
            max_connections,
            restore_session: String::new(),
        })
    }

    /// Reads `VERSION()`, `@@version_comment` and `@@max_connections`.
    pub(crate) async fn read(conn: &mut MySqlConnection) -> Result<Server, String> {
        let row = sqlx::query(
            "SELECT VERSION(), @@version_comment, @@max_connections, @@SESSION.sql_mode, \
             @@SESSION.character_set_client, @@SESSION.collation_connection, @@SESSION.time_zone, \
             CAST(@@SESSION.foreign_key_checks AS CHAR)",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| format!("cannot tell which server this is: SELECT VERSION() failed: {e}"))?;
        let version = text(&row, 0).ok().flatten().unwrap_or_default();
        let comment = text(&row, 1).ok().flatten().unwrap_or_default();
        let max: u64 = row
            .try_get_unchecked::<Option<u64>, _>(2)
            .ok()
            .flatten()
            .unwrap_or(151);
        let mut server = Server::identify(&version, &comment, max.min(u64::from(u32::MAX)) as u32)?;
        let setting = |i: usize| -> Result<String, String> {
            let value = text(&row, i).ok().flatten().unwrap_or_default();
            crate::naming::literal(&value)
                .ok_or_else(|| format!("unexpected session setting {value:?}"))
        };
        server.restore_session = format!(
            "SET SESSION sql_mode = {}, character_set_client = {}, collation_connection = {}, \
             time_zone = {}, foreign_key_checks = {}",
            setting(3)?,
            setting(4)?,
            setting(5)?,
            setting(6)?,
            setting(7)?
        );
        Ok(server)
    }

    pub(crate) fn is_mariadb(&self) -> bool {
        self.flavor == Flavor::MariaDb
    }

    /// A line for a server older than the versions dbtest is built for; `None` when it is not.
    pub(crate) fn too_old(&self) -> Option<String> {
        let (oldest, name) = match self.flavor {
            Flavor::MariaDb => (OLDEST_MARIADB, "MariaDB 10.6"),
            Flavor::MySql => (OLDEST_MYSQL, "MySQL 8.0.16"),
        };
        // A patch level that is not a number (Aurora's `8.0.mysql_aurora.3.05.2`) is not judged.
        let (major, minor, _) = self.version;
        let old = match self.patch_known {
            true => self.version < oldest,
            false => (major, minor) < (oldest.0, oldest.1),
        };
        old.then(|| {
            format!(
                "dbtest: the server is {} ({}); dbtest is built for {name} and later, and may fail on it",
                self.version_text,
                self.name()
            )
        })
    }

    /// `MariaDB` or `MySQL`.
    pub(crate) fn name(&self) -> &'static str {
        match self.flavor {
            Flavor::MariaDb => "MariaDB",
            Flavor::MySql => "MySQL",
        }
    }

    // One function per difference.

    /// Session settings besides the common ones for reading a database's state: MySQL 8 caches
    /// `information_schema` table statistics (`AUTO_INCREMENT` among them) for a day unless told
    /// not to (`information_schema_stats_expiry`, MySQL only).
    pub(crate) fn state_session_settings(&self) -> &'static str {
        match self.flavor {
            Flavor::MySql => ", information_schema_stats_expiry = 0",
            Flavor::MariaDb => "",
        }
    }

    /// Whether history rows of system-versioned tables can be written back
    /// (`system_versioning_insert_history`, MariaDB 10.11+; MySQL has no system versioning).
    pub(crate) fn can_insert_history(&self) -> bool {
        self.is_mariadb() && self.version >= (10, 11, 0)
    }

    /// The command-line client that fits the server.
    pub(crate) fn client(&self) -> &'static str {
        match self.flavor {
            Flavor::MariaDb => "mariadb",
            Flavor::MySql => "mysql",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(version: &str, comment: &str) -> Result<(Flavor, (u32, u32, u32)), String> {
        Server::identify(version, comment, 151).map(|s| (s.flavor, s.version))
    }

    #[test]
    fn servers_are_told_apart_by_what_they_say() {
        use Flavor::*;
        assert_eq!(
            id("10.11.19-MariaDB-0+deb12u1", "Debian 12"),
            Ok((MariaDb, (10, 11, 19)))
        );
        assert_eq!(
            id(
                "5.5.5-10.6.18-MariaDB-log",
                "mariadb.org binary distribution"
            ),
            Ok((MariaDb, (10, 6, 18)))
        );
        assert_eq!(id("11.4.2-MariaDB", ""), Ok((MariaDb, (11, 4, 2))));
        // A MariaDB whose version string was changed still names itself in its comment.
        assert_eq!(id("8.0.99", "MariaDB Server"), Ok((MariaDb, (8, 0, 99))));
        assert_eq!(
            id("8.0.36", "MySQL Community Server - GPL"),
            Ok((MySql, (8, 0, 36)))
        );
        assert_eq!(
            id("8.4.3", "MySQL Community Server - GPL"),
            Ok((MySql, (8, 4, 3)))
        );
        assert_eq!(
            id("8.0.mysql_aurora.3.05.2", "Source distribution"),
            Ok((MySql, (8, 0, 0)))
        );
        assert_eq!(
            id("8.0.35-27", "Percona Server (GPL), Release 27"),
            Ok((MySql, (8, 0, 35)))
        );
        let unknown = id("", "").unwrap_err();
        assert!(
            unknown.contains("cannot tell which server this is"),
            "{unknown}"
        );
        assert!(id("vitess", "").is_err());
    }

    #[test]
    fn old_servers_are_named() {
        let old = Server::identify("10.5.9-MariaDB", "", 151).unwrap();
        assert!(old.too_old().unwrap().contains("MariaDB 10.6 and later"));
        let old = Server::identify("8.0.15", "MySQL Community Server - GPL", 151).unwrap();
        assert!(old.too_old().unwrap().contains("MySQL 8.0.16 and later"));
        let aurora =
            Server::identify("8.0.mysql_aurora.3.05.2", "Source distribution", 151).unwrap();
        assert_eq!(
            aurora.too_old(),
            None,
            "Aurora 3 says no patch level: not judged"
        );
        let old = Server::identify("5.7.mysql_aurora.2.11.2", "", 151).unwrap();
        assert!(old.too_old().is_some());
        for new in ["10.6.0-MariaDB", "8.0.16", "8.4.0", "11.8.1-MariaDB"] {
            assert_eq!(
                Server::identify(new, "", 151).unwrap().too_old(),
                None,
                "{new}"
            );
        }
    }

    #[test]
    fn the_differences() {
        let mysql = Server::identify("8.4.3", "MySQL Community Server - GPL", 151).unwrap();
        let mariadb = Server::identify("10.11.19-MariaDB", "", 151).unwrap();
        let mariadb_106 = Server::identify("10.6.18-MariaDB", "", 151).unwrap();
        assert!(mysql
            .state_session_settings()
            .contains("information_schema_stats_expiry = 0"));
        assert_eq!(mariadb.state_session_settings(), "");
        assert!(mariadb.can_insert_history() && !mariadb_106.can_insert_history());
        assert!(!mysql.can_insert_history());
        assert_eq!((mysql.client(), mariadb.client()), ("mysql", "mariadb"));
    }
}
