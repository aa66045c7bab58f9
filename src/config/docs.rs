//! The configuration chapter of the book stays true to the `variables!` table (issue 27).
//!
//! `docs/src/configuration.md` documents every variable in a `| variable | default | meaning |`
//! table (several such tables may share the page); each row's default must be the one the
//! table shows. A variable declared and not documented, documented and not declared, or
//! documented with another default fails `cargo test` naming it. Beyond the page, every
//! `GUARD_*` name written in the code, the templates, the scripts and the docs must be a
//! declared variable, and only `src/config.rs` may read one from the environment.
//!
//! Test modules (files named `tests.rs`, and this file) are not scanned: they name variables
//! that do not exist on purpose.

use super::{VARIABLES, Variable};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const PAGE: &str = "docs/src/configuration.md";
const HEADER: &str = "| variable | default | meaning |";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn normalise(cell: &str) -> String {
    cell.trim().replace('`', "")
}

/// The (variable, default) rows of every `| variable | default | meaning |` table on a page,
/// backticks dropped.
fn documented(page: &str) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        if line.trim() != HEADER {
            continue;
        }
        lines.next(); // |---|---|---|
        for row in lines.by_ref().take_while(|l| l.starts_with('|')) {
            let cells: Vec<&str> = row.split('|').collect();
            if cells.len() > 3 {
                rows.push((normalise(cells[1]), normalise(cells[2])));
            }
        }
    }
    rows
}

/// Everything that differs between the declared variables and the page, one line each.
fn problems(declared: &[Variable], page: &str) -> Vec<String> {
    let rows = documented(page);
    let mut out = Vec::new();
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, default) in &rows {
        if seen.insert(name, default).is_some() {
            out.push(format!("{name}: documented twice in {PAGE}"));
        }
    }
    for v in declared {
        match seen.get(v.name) {
            None => out.push(format!(
                "{}: read by the code (src/config.rs) but not documented in {PAGE}: add a row \
                 `| `{}` | {} | … |`",
                v.name, v.name, v.shown
            )),
            Some(default) if **default != normalise(v.shown) => out.push(format!(
                "{}: {PAGE} says the default is {default:?}; the code's is {:?}",
                v.name,
                normalise(v.shown)
            )),
            Some(_) => {}
        }
    }
    let names: BTreeSet<&str> = declared.iter().map(|v| v.name).collect();
    for name in seen.keys() {
        if !names.contains(name) {
            out.push(format!(
                "{name}: documented in {PAGE} but the code reads no such variable"
            ));
        }
    }
    out
}

/// The `GUARD_*` names written in a text (a name is `GUARD_` and at least one of A-Z, 0-9, `_`,
/// not preceded by a letter, digit or `_`: `REKOGNITION_GUARD_BIN` is no variable).
fn names_in(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let mut out = BTreeSet::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("GUARD_").map(|i| i + from) {
        let end = at
            + 6
            + bytes[at + 6..]
                .iter()
                .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b'_')
                .count();
        let joined = at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        if end > at + 6 && !joined {
            out.insert(text[at..end].trim_end_matches('_').to_owned());
        }
        from = end.max(at + 1);
    }
    out
}

/// `GUARD_*` names a source file reads from the environment itself (a line that calls
/// `env::var`/`var_os` and names one).
fn read_outside_the_table(source: &str) -> BTreeSet<String> {
    source
        .lines()
        .filter(|l| l.contains("env::var"))
        .flat_map(names_in)
        .collect()
}

fn walk(dir: &Path, ext: &str, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, ext, into);
        } else if path.extension().is_some_and(|e| e == ext) {
            into.push(path);
        }
    }
}

/// The source files outside test modules.
fn sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    walk(&root().join("src"), "rs", &mut files);
    files.retain(|f| {
        f.file_name().is_some_and(|n| n != "tests.rs") && !f.ends_with("src/config/docs.rs")
    });
    files
}

/// Where variables are named for people and machines besides the code.
fn documents_and_templates() -> Vec<PathBuf> {
    let r = root();
    let mut files = vec![
        r.join("README.md"),
        r.join("template.yaml"),
        r.join("Makefile"),
    ];
    walk(&r.join("docs"), "md", &mut files);
    walk(&r.join("deploy"), "yaml", &mut files);
    walk(&r.join("scripts"), "py", &mut files);
    if let Ok(entries) = std::fs::read_dir(&r) {
        files.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "mk")),
        );
    }
    files.retain(|f| f.is_file());
    files
}

#[test]
fn the_configuration_page_documents_every_variable_with_its_default() {
    let problems = problems(VARIABLES, &read(&root().join(PAGE)));
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    assert!(VARIABLES.len() >= 36, "{}", VARIABLES.len());
}

/// The check above fails when a row is added to the `variables!` table and not to the page.
#[test]
fn a_variable_added_without_documentation_fails_the_check() {
    let page = read(&root().join(PAGE));
    let mut declared = VARIABLES.to_vec();
    declared.push(Variable {
        name: "GUARD_ADDED_WITHOUT_DOCS",
        shown: "`7`",
    });
    assert_eq!(
        problems(&declared, &page),
        vec![format!(
            "GUARD_ADDED_WITHOUT_DOCS: read by the code (src/config.rs) but not documented in {PAGE}: \
             add a row `| `GUARD_ADDED_WITHOUT_DOCS` | `7` | … |`"
        )]
    );
    // Documented with that default, it passes.
    let documented = format!(
        "{page}\n{HEADER}\n|---|---|---|\n| `GUARD_ADDED_WITHOUT_DOCS` | `7` | a new knob |\n"
    );
    assert_eq!(problems(&declared, &documented), Vec::<String>::new());
}

#[test]
fn a_documented_variable_the_code_does_not_read_or_a_wrong_default_fails_the_check() {
    let page = read(&root().join(PAGE));
    let stale = page.replacen(
        "| `GUARD_MODE` |",
        "| `GUARD_REMOVED_LONG_AGO` | unset | gone |\n| `GUARD_MODE` |",
        1,
    );
    assert_eq!(
        problems(VARIABLES, &stale),
        vec![format!(
            "GUARD_REMOVED_LONG_AGO: documented in {PAGE} but the code reads no such variable"
        )]
    );
    let wrong = page.replacen(
        "| `GUARD_SCAN_CONCURRENCY` | `16` |",
        "| `GUARD_SCAN_CONCURRENCY` | `32` |",
        1,
    );
    assert_ne!(wrong, page, "the page's GUARD_SCAN_CONCURRENCY row");
    assert_eq!(
        problems(VARIABLES, &wrong),
        vec![format!(
            "GUARD_SCAN_CONCURRENCY: {PAGE} says the default is \"32\"; the code's is \"16\""
        )]
    );
    let twice = page.replacen(
        "| `GUARD_MODE` |",
        "| `GUARD_MODE` | `remediate` | x |\n| `GUARD_MODE` |",
        1,
    );
    assert_eq!(
        problems(VARIABLES, &twice),
        vec![format!("GUARD_MODE: documented twice in {PAGE}")]
    );
}

#[test]
fn every_guard_name_in_code_templates_scripts_and_docs_is_a_declared_variable() {
    let declared: BTreeSet<&str> = VARIABLES.iter().map(|v| v.name).collect();
    let mut unknown = Vec::new();
    let files: Vec<PathBuf> = sources()
        .into_iter()
        .chain(documents_and_templates())
        .collect();
    assert!(files.len() > 50, "{}", files.len());
    for file in &files {
        for name in names_in(&read(file)) {
            if !declared.contains(name.as_str()) {
                let shown = file
                    .strip_prefix(root())
                    .unwrap_or(file)
                    .display()
                    .to_string();
                unknown.push(format!("{name} in {shown}"));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "names that are no variable of src/config.rs (a typo, or a variable read outside its table):\n{}",
        unknown.join("\n")
    );
}

#[test]
fn only_the_configuration_reads_guard_variables_from_the_environment() {
    let mut outside = Vec::new();
    for file in sources() {
        if file.ends_with("src/config.rs") {
            continue;
        }
        for name in read_outside_the_table(&read(&file)) {
            outside.push(format!("{name} in {}", file.display()));
        }
    }
    assert!(
        outside.is_empty(),
        "read outside src/config.rs: {outside:?}"
    );
}

#[test]
fn the_scanners_find_what_they_look_for() {
    assert_eq!(
        names_in("set `GUARD_MODE=audit`, REKOGNITION_GUARD_BIN, GUARD_* and GUARD_X_."),
        BTreeSet::from(["GUARD_MODE".to_owned(), "GUARD_X".to_owned()])
    );
    assert_eq!(
        read_outside_the_table(
            "let v = std::env::var(\"GUARD_SNEAKY\").ok();\nlet w = \"GUARD_MODE\";"
        ),
        BTreeSet::from(["GUARD_SNEAKY".to_owned()])
    );
    assert_eq!(
        documented(
            "x\n| variable | default | meaning |\n|---|---|---|\n| `GUARD_A` | `1` | a |\n\ntext\n"
        ),
        vec![("GUARD_A".to_owned(), "1".to_owned())]
    );
}
