//! Issue 23: a rule is found by its number in one place. Every R-number that RULES.md defines is
//! owned by exactly one `services/policy` module, which says so on its first line
//! (`//! Owns: R2, R5.`); a module that owns none says `//! Owns: no rule; ...` and why.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn policy_sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources: Vec<_> = fs::read_dir(&src)
        .expect("policy src")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .map(|path| {
            let name = path
                .file_stem()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            (name.to_owned(), fs::read_to_string(&path).expect("module"))
        })
        .collect();
    sources.sort();
    sources
}

fn rules() -> BTreeSet<u32> {
    let text = fs::read_to_string(repo_root().join("docs/rules.md")).expect("docs/rules.md");
    defined_rules(&text)
}

/// The number at `chars[i..]` and the index after it.
fn number_at(chars: &[char], i: usize) -> Option<(u32, usize)> {
    let digits: String = chars[i..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok().map(|n| (n, i + digits.len()))
}

/// The R-numbers in `text`: `R12`, and every number of a range `R15-R18` / `R15–R18`.
fn r_numbers(text: &str) -> Vec<u32> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !chars[i - 1].is_alphanumeric();
        let number = (chars[i] == 'R' && starts_word)
            .then(|| number_at(&chars, i + 1))
            .flatten();
        let Some((first, end)) = number else {
            i += 1;
            continue;
        };
        let is_range =
            matches!(chars.get(end), Some('-' | '–')) && chars.get(end + 1) == Some(&'R');
        match is_range.then(|| number_at(&chars, end + 2)).flatten() {
            Some((last, after)) => {
                found.extend(first..=last);
                i = after;
            }
            None => {
                found.push(first);
                i = end;
            }
        }
    }
    found
}

/// The ids RULES.md defines: each rule's bold lead (`- **R7 Bulk by CSV.**`) and a section named
/// after one (`## Policy values (R30)`).
fn defined_rules(rules: &str) -> BTreeSet<u32> {
    rules
        .lines()
        .filter_map(|line| {
            let line = line.trim_end();
            if let Some(rest) = line.strip_prefix("- **R") {
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            } else if line.starts_with("## ") && line.ends_with(')') {
                let inside = line.rsplit_once('(')?.1.trim_end_matches(')');
                inside.strip_prefix('R')?.parse().ok()
            } else {
                None
            }
        })
        .collect()
}

/// Each policy module (but `lib.rs`) with the R-numbers on its `Owns:` line.
fn owners() -> BTreeMap<String, Vec<u32>> {
    policy_sources()
        .into_iter()
        .filter(|(name, _)| name != "lib")
        .map(|(name, text)| {
            let first = text.lines().next().unwrap_or_default();
            let owned = first
                .strip_prefix("//! Owns: ")
                .unwrap_or_else(|| panic!("{name}.rs must open with `//! Owns: ...`: {first:?}"));
            let numbers = if owned.starts_with("no rule") {
                Vec::new()
            } else {
                r_numbers(owned)
            };
            assert!(
                owned.starts_with("no rule") || !numbers.is_empty(),
                "{name}.rs: `Owns:` names no R-number and does not say `no rule`: {owned:?}"
            );
            (name, numbers)
        })
        .collect()
}

#[test]
fn every_rule_is_owned_by_exactly_one_policy_module() {
    let defined = rules();
    assert!(defined.len() >= 20, "RULES.md defines {defined:?}");
    let mut owned_by: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for (module, numbers) in owners() {
        for n in numbers {
            owned_by.entry(n).or_default().push(module.clone());
        }
    }
    let unowned: Vec<_> = defined
        .iter()
        .filter(|n| !owned_by.contains_key(n))
        .collect();
    assert!(
        unowned.is_empty(),
        "rules owned by no policy module: {unowned:?}"
    );
    let twice: Vec<_> = owned_by.iter().filter(|(_, m)| m.len() > 1).collect();
    assert!(twice.is_empty(), "rules owned by two modules: {twice:?}");
    let unknown: Vec<_> = owned_by.keys().filter(|n| !defined.contains(n)).collect();
    assert!(
        unknown.is_empty(),
        "modules own rules RULES.md lacks: {unknown:?}"
    );
}

#[test]
fn every_r_number_the_policy_crate_cites_exists() {
    let defined = rules();
    for (name, text) in policy_sources() {
        for n in r_numbers(&text) {
            assert!(
                defined.contains(&n),
                "{name}.rs cites R{n}, which RULES.md lacks"
            );
        }
    }
}

#[test]
fn the_repository_copy_of_the_rules_is_current() {
    // The shared design folder sits beside the repository on the team's machines, not in CI.
    let Ok(shared) = fs::read_to_string(repo_root().join("../shared/design/RULES.md")) else {
        return;
    };
    let copy = fs::read_to_string(repo_root().join("docs/rules.md")).expect("docs/rules.md");
    assert!(
        copy.ends_with(&shared),
        "docs/rules.md differs from shared/design/RULES.md: copy it again"
    );
}

#[test]
fn the_parsers_read_what_they_should() {
    assert_eq!(
        r_numbers("R2, R5 and R15–R18; R10-R11. PR3 NR4 R"),
        [2, 5, 15, 16, 17, 18, 10, 11]
    );
    let rules = "- **R1 Release.** x\n  - **R9 nested\n## Policy values (R30)\n## Tracking (x)\n";
    assert_eq!(defined_rules(rules), BTreeSet::from([1, 30]));
}
