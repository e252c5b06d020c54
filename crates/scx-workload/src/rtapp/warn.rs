//! Collects the non-fatal remarks that end up in `Workload::warnings`.
//!
//! A remark about a key is made once per key name however often the key
//! appears (a generated file may repeat `util_min` in every phase): the
//! warning points at the first occurrence and says how many there were.
//! Other remarks are kept as they come. Every warning reads
//! `file:line:column: message`.

use super::error::{locate, one_line, Pos};

struct Item {
    /// Aggregation key; `None` for a remark that is never merged.
    key: Option<String>,
    pos: Pos,
    msg: String,
    count: usize,
}

/// Warnings gathered while reading one file, in order of first occurrence.
#[derive(Default)]
pub(crate) struct Warnings {
    items: Vec<Item>,
}

impl Warnings {
    /// Records a remark about `key`, merged with earlier remarks about the
    /// same key.
    pub fn once(&mut self, key: &str, pos: Pos, msg: impl FnOnce() -> String) {
        if let Some(item) = self
            .items
            .iter_mut()
            .find(|i| i.key.as_deref() == Some(key))
        {
            item.count += 1;
            return;
        }
        self.items.push(Item {
            key: Some(key.to_string()),
            pos,
            msg: msg(),
            count: 1,
        });
    }

    /// Records a remark that stands on its own.
    pub fn note(&mut self, pos: Pos, msg: impl Into<String>) {
        self.items.push(Item {
            key: None,
            pos,
            msg: msg.into(),
            count: 1,
        });
    }

    /// Renders the warnings for `file`.
    pub fn render(self, file: &str) -> Vec<String> {
        self.items
            .into_iter()
            .map(|i| {
                let times = if i.count > 1 {
                    format!(" ({} occurrences)", i.count)
                } else {
                    String::new()
                };
                one_line(&format!("{}: {}{}", locate(file, i.pos), i.msg, times))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_reported_once() {
        let mut w = Warnings::default();
        w.once("util_min", Pos { line: 3, col: 5 }, || {
            "util_min ignored".into()
        });
        w.once("util_min", Pos { line: 9, col: 5 }, || unreachable!());
        w.note(Pos::START, "other");
        assert_eq!(
            w.render("f.json"),
            vec![
                "f.json:3:5: util_min ignored (2 occurrences)",
                "f.json:1:1: other"
            ]
        );
    }
}
