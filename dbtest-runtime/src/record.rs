//! The text format dbtest stores typed values in (a template's clone script and reference state,
//! in its ready marker): one record per line, fields separated by tabs, each field escaped so it
//! may hold any text, `NULL` written as `\N`.

/// Appends one record of `fields` to `out`.
pub(crate) fn write<'a>(out: &mut String, fields: impl IntoIterator<Item = Option<&'a str>>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        match field {
            None => out.push_str("\\N"),
            Some(s) => {
                for c in s.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\t' => out.push_str("\\t"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        c => out.push(c),
                    }
                }
            }
        }
    }
    out.push('\n');
}

/// The records of `text`, each a list of fields; `None` if any field is malformed.
pub(crate) fn read(text: &str) -> Option<Vec<Vec<Option<String>>>> {
    text.lines()
        .map(|line| line.split('\t').map(unescape).collect())
        .collect()
}

fn unescape(field: &str) -> Option<Option<String>> {
    if field == "\\N" {
        return Some(None);
    }
    // Whole runs between escapes are copied at once: a script is read by every test process.
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        out.push(match rest.as_bytes().get(at + 1)? {
            b'\\' => '\\',
            b't' => '\t',
            b'n' => '\n',
            b'r' => '\r',
            _ => return None,
        });
        // The escaped character is ASCII: `at + 2` is a character boundary.
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    Some(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_text_round_trips() {
        let mut out = String::new();
        let nasty = "a\tb\nc\\N\r\\t end";
        write(&mut out, [Some("kind"), Some(nasty), None, Some("")]);
        write(&mut out, [Some("\\N")]);
        let records = read(&out).unwrap();
        assert_eq!(
            records,
            vec![
                vec![
                    Some("kind".to_owned()),
                    Some(nasty.to_owned()),
                    None,
                    Some(String::new())
                ],
                vec![Some("\\N".to_owned())],
            ]
        );
        assert_eq!(read("bad\\x"), None);
        assert_eq!(read("bad\\"), None);
        assert_eq!(
            read("é\\t\\\\é"),
            Some(vec![vec![Some("é\t\\é".to_owned())]])
        );
    }
}
