//! Making a database from a template: registered, owned and cloned from the template's script in
//! one request. Test databases are made so, and derived templates (see `template`).

use sqlx::mysql::MySqlConnection;
use tracing::Instrument;

use crate::compat;
use crate::context::Context;
use crate::db;
use crate::error::{Error, Result};
use crate::naming::DbName;
use crate::registry::{self, Kind};

/// What a clone is made as.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Made<'a> {
    /// A test database (of the test at this path, when it is single-use).
    Test(Option<&'a str>),
    /// A derived template, whose builder holds its lock and replaces whatever a build that died
    /// left under its name; `layer` says what is built on it.
    Template { layer: &'a str },
}

/// Creates database `name` as a clone of `template` (whose clone statements are `script_sql`,
/// see `Script::clone_sql`) on `owner`, which ends with it as its default database. For a test
/// database `owner` takes its owner lock first (a database of ours whose lock is free has no
/// live owner).
pub(crate) async fn clone_into(
    ctx: &Context,
    owner: &mut MySqlConnection,
    template: &DbName,
    script_sql: &str,
    name: &DbName,
    made: Made<'_>,
) -> Result<()> {
    let first = match made {
        Made::Test(test_path) => format!(
            "DO GET_LOCK({lock}, 0); {register}",
            lock = name.literal(),
            register = registry::register_sql(name, Kind::Test, test_path, Some(template)),
        ),
        Made::Template { layer } => format!(
            "{register}; DROP DATABASE IF EXISTS {name}",
            register = registry::register_sql(name, Kind::Template, Some(layer), Some(template)),
        ),
    };
    let sql = format!("{first}; CREATE DATABASE {name}; USE {name};\n{script_sql}");
    db::bounded(
        || format!("creating database {name} from template {template}"),
        ctx.ddl_timeout,
        "raise DBTEST_DDL_TIMEOUT, or look for a stalled server",
        async {
            compat::raw_sql(&sql)
                .execute(&mut *owner)
                .await
                .map(drop)
                .map_err(|e| {
                    db::refused_or(e, "creating a database from a template", |e| Error::Clone {
                        database: name.as_str().to_owned(),
                        template: template.as_str().to_owned(),
                        reason: if crate::compat::server_code(&e) == Some(1176) {
                            // `snapshot::NOT_A_VIEW` refused a view where a table was.
                            format!(
                                "a table of the template or of the new database is a view now ({e}), \
                                 which dbtest neither reads nor writes through: another account with the \
                                 grant may have changed it; drop the template (`dbtest clean --all`) and \
                                 the next run builds it again"
                            )
                            .into()
                        } else {
                            e.into()
                        },
                    })
                })
        },
    )
    .instrument(tracing::debug_span!("clone", database = name.as_str()))
    .await
}
