//! Checkpoints: which objects a run has finished (key and ETag), and the consumer's state as of
//! exactly those objects, written atomically so a run killed at any moment can resume.
//!
//! The file is JSON:
//!
//! ```json
//! {"format": "vpcflow-checkpoint", "version": 1,
//!  "objects": {"bucket/key.log.gz": "\"etag\"", …},
//!  "state": { … whatever the command keeps, e.g. the verdict aggregator's snapshot … }}
//! ```
//!
//! It is written to `FILE.tmp`, flushed to disk and renamed over `FILE`: a reader sees the old
//! checkpoint or the new one, never half of one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const FORMAT: &str = "vpcflow-checkpoint";

/// A checkpoint's contents.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    format: String,
    version: u32,
    /// Finished objects: `bucket/key` → ETag.
    pub objects: BTreeMap<String, String>,
    /// The consumer's state as of those objects.
    pub state: serde_json::Value,
}

impl Checkpoint {
    /// An empty checkpoint.
    pub fn new() -> Checkpoint {
        Checkpoint {
            format: FORMAT.to_owned(),
            version: 1,
            ..Checkpoint::default()
        }
    }

    /// Reads `path`; a missing file is an empty checkpoint.
    pub fn load(path: &Path) -> Result<Checkpoint, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Checkpoint::new()),
            Err(e) => return Err(format!("cannot read checkpoint {}: {e}", path.display())),
        };
        let c: Checkpoint = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{} is not a vpcflow checkpoint ({e}); delete it to start over",
                path.display()
            )
        })?;
        if c.format != FORMAT || c.version != 1 {
            return Err(format!(
                "{} is a checkpoint of another format or version; delete it to start over",
                path.display()
            ));
        }
        Ok(c)
    }

    /// Whether `id` with `etag` is finished. A changed ETag means a new object: not finished.
    pub fn is_done(&self, id: &str, etag: &str) -> bool {
        self.objects.get(id).is_some_and(|e| e == etag)
    }

    /// Writes atomically to `path`.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut tmp = PathBuf::from(path);
        tmp.as_mut_os_string().push(".tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            serde_json::to_writer(&mut f, self)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_atomically_and_refuses_strangers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        assert_eq!(Checkpoint::load(&path).unwrap(), Checkpoint::new());
        let mut c = Checkpoint::new();
        c.objects.insert("b/k".into(), "\"e1\"".into());
        c.state = serde_json::json!({"n": 3});
        c.save(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap();
        assert_eq!(back, c);
        assert!(back.is_done("b/k", "\"e1\""));
        assert!(!back.is_done("b/k", "\"e2\""));
        assert!(!dir.path().join("c.json.tmp").exists());
        std::fs::write(&path, "{\"something\": 1}").unwrap();
        assert!(Checkpoint::load(&path).unwrap_err().contains("delete it"));
    }
}
