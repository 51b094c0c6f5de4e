//! The committed table of `information_schema` columns (`src/catalog.tsv`) against the server at
//! hand: every column dbtest reads is there, and every column the table says this server has (or
//! lacks) is there (or is not). On MariaDB 10.11 here; on any of the table's servers elsewhere.

use dbtest_runtime::sqlx;

#[path = "../src/catalog.rs"]
#[allow(dead_code)]
mod catalog;

use sqlx::{ConnectOptions, Executor};

#[test]
fn the_table_holds_on_this_server() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(check());
}

async fn check() {
    let mut conn = dbtest_runtime::admin::connect_options()
        .unwrap()
        .connect()
        .await
        .unwrap();
    let version: String = sqlx::query_scalar("SELECT CONVERT(VERSION() USING utf8mb4)")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let numbers: Vec<u32> = version
        .split(['.', '-'])
        .take(2)
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    let column = match (version.contains("MariaDB"), numbers.as_slice()) {
        (false, [8, 0]) => Some(0),
        (false, [8, 4]) => Some(1),
        (true, [10, 6]) => Some(2),
        (true, [10, 11]) => Some(3),
        (true, [11, _]) => Some(4),
        _ => None,
    };
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (read, problems) = catalog::check_dir(&src);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let mut wrong = Vec::new();
    for ((table, col), on) in catalog::documented() {
        let sql = format!("SELECT {col} FROM information_schema.{table} LIMIT 0");
        let has = conn
            .execute(dbtest_runtime::__private::sql::raw_sql(&sql))
            .await
            .is_ok();
        let want = match column {
            Some(i) => on[i],
            // A server the table does not cover: only what dbtest reads must be there.
            None if read.contains(&(table.clone(), col.clone())) => true,
            None => continue,
        };
        if has != want {
            wrong.push(format!(
                "information_schema.{table}.{col}: the table says {}, {version} {}",
                if want { "present" } else { "absent" },
                if has { "has it" } else { "does not" }
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        read.len() > 30,
        "the scan found what dbtest reads: {read:?}"
    );
}
