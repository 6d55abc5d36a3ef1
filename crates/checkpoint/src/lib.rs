//! Checkpoints: what a run has finished, and the consumer's state as of exactly that, in one
//! file that a run killed at any moment can resume from.
//!
//! # A tour
//! - [`Checkpoint`]: the contents — finished sources (an id such as `bucket/key` and its ETag),
//!   metadata the command keeps (a tail's position), and the state bytes (the verdict
//!   aggregator's, in [its own versioned form](https://docs.rs/vpcflow-verdict)).
//! - [`CheckpointFile::open`]: takes an advisory lock on the checkpoint (two runs sharing one
//!   would break each other), reads it, and refuses one made for another catalogue, window or
//!   set of options ([`Fingerprint`]).
//! - [`CheckpointFile::save`]: writes a new temporary file (created exclusively, so a link
//!   planted at a predictable name is never followed), flushes it to disk, and renames it over
//!   the checkpoint: a reader sees the old checkpoint or the new one, never half of one.
//!
//! # The file
//! ```text
//! vpcflow-checkpoint 2\n
//! {"fingerprint": "…", "sources": {"bucket/key.log.gz": "\"etag\"", …}, "meta": …}\n
//! <state bytes, to the end of the file>
//! ```
//!
//! Version 1 (a JSON document, vpcflow before order-independent verdicts) is refused with a
//! message saying so: its verdict state cannot be merged exactly.
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const MAGIC: &str = "vpcflow-checkpoint";
/// The format version written.
pub const VERSION: u32 = 2;

/// What a checkpoint must match to be resumed: the catalogue, the time window, the options
/// that change what is counted. Built from labelled parts; two fingerprints are equal when
/// every part is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    parts: Vec<(String, String)>,
}

impl Fingerprint {
    /// An empty fingerprint for `command` (`verdict`, `tail`, `convert`).
    pub fn new(command: &str) -> Fingerprint {
        Fingerprint {
            parts: vec![("command".into(), command.into())],
        }
    }

    /// Adds a labelled part; its value may be long (a whole catalogue): it is hashed.
    pub fn with(mut self, label: &str, value: impl AsRef<[u8]>) -> Fingerprint {
        let digest = xxhash_rust::xxh3::xxh3_128(value.as_ref());
        self.parts.push((label.into(), format!("{digest:032x}")));
        self
    }

    fn render(&self) -> String {
        self.parts
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";")
    }

    fn differences(&self, stored: &str) -> Vec<String> {
        let stored: BTreeMap<&str, &str> = stored
            .split(';')
            .filter_map(|p| p.split_once('='))
            .collect();
        self.parts
            .iter()
            .filter(|(k, v)| stored.get(k.as_str()) != Some(&v.as_str()))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// A checkpoint's contents.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    /// Finished sources: an id (`bucket/key`) → its ETag.
    pub sources: BTreeMap<String, String>,
    /// Whatever else the command keeps (a tail's position and recent event ids).
    pub meta: serde_json::Value,
    /// The consumer's state as of those sources (empty: none yet).
    pub state: Vec<u8>,
}

impl Checkpoint {
    /// Whether `id` with `etag` is finished. A changed ETag means a new object: not finished.
    pub fn is_done(&self, id: &str, etag: &str) -> bool {
        self.sources.get(id).is_some_and(|e| e == etag)
    }
}

#[derive(Serialize, Deserialize)]
struct Head {
    fingerprint: String,
    #[serde(default)]
    sources: BTreeMap<String, String>,
    #[serde(default)]
    meta: serde_json::Value,
}

/// Why a checkpoint cannot be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Another run holds the checkpoint's lock.
    Locked {
        /// The checkpoint.
        path: PathBuf,
    },
    /// It was made for another catalogue, window or options.
    Mismatch {
        /// The checkpoint.
        path: PathBuf,
        /// What differs (`catalogue`, `window`, …).
        differs: Vec<String>,
    },
    /// It is a checkpoint of an older format.
    OldFormat {
        /// The checkpoint.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
    /// It is not a checkpoint, or it is damaged.
    Unreadable {
        /// The checkpoint.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Reading or locking it failed.
    Io {
        /// The checkpoint.
        path: PathBuf,
        /// The error.
        error: io::Error,
    },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Locked { path } => write!(
                f,
                "checkpoint {} is in use by another vpcflow run (its lock {} is held); wait for \
                 it to end, or give this run a checkpoint of its own",
                path.display(),
                lock_path(path).display()
            ),
            CheckpointError::Mismatch { path, differs } => write!(
                f,
                "checkpoint {} was made with a different {}; resuming it would mix two runs. \
                 Run with the same arguments, or delete the checkpoint to start over",
                path.display(),
                differs.join(", ")
            ),
            CheckpointError::OldFormat { path, version } => write!(
                f,
                "checkpoint {} is of format {version}, written by an older vpcflow; its verdict \
                 state cannot be merged exactly by this one. Delete it and run again",
                path.display()
            ),
            CheckpointError::Unreadable { path, why } => write!(
                f,
                "{} is not a vpcflow checkpoint ({why}); delete it to start over",
                path.display()
            ),
            CheckpointError::Io { path, error } => {
                write!(f, "cannot read checkpoint {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckpointError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// Writes the consumer's state into a checkpoint being saved.
pub type WriteState<'a> = &'a mut dyn FnMut(&mut dyn Write) -> io::Result<()>;

/// An open checkpoint: locked for this run until dropped.
#[derive(Debug)]
pub struct CheckpointFile {
    path: PathBuf,
    fingerprint: Fingerprint,
    /// Held for the advisory lock.
    _lock: File,
    /// What the checkpoint holds (what this run resumes from, then what it saved last).
    pub data: Checkpoint,
}

impl CheckpointFile {
    /// Locks and reads `path` (a missing file is an empty checkpoint). A checkpoint whose
    /// fingerprint differs from `fingerprint` is refused, naming what differs.
    pub fn open(path: &Path, fingerprint: Fingerprint) -> Result<CheckpointFile, CheckpointError> {
        let io_err = |error| CheckpointError::Io {
            path: path.to_owned(),
            error,
        };
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path(path))
            .map_err(io_err)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(CheckpointError::Locked {
                    path: path.to_owned(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(e)),
        }
        let data = match File::open(path) {
            Ok(f) => read(path, f, &fingerprint)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Checkpoint::default(),
            Err(e) => return Err(io_err(e)),
        };
        Ok(CheckpointFile {
            path: path.to_owned(),
            fingerprint,
            _lock: lock,
            data,
        })
    }

    /// The checkpoint's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `self.data` (its `state` replaced by what `state` writes, when given) atomically:
    /// a fresh temporary file beside the checkpoint, flushed to disk, renamed over it.
    pub fn save(&mut self, state: Option<WriteState<'_>>) -> io::Result<()> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(&dir)?;
        {
            let mut w = io::BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
            writeln!(w, "{MAGIC} {VERSION}")?;
            let head = Head {
                fingerprint: self.fingerprint.render(),
                sources: self.data.sources.clone(),
                meta: self.data.meta.clone(),
            };
            serde_json::to_writer(&mut w, &head)?;
            w.write_all(b"\n")?;
            match state {
                Some(write_state) => {
                    let mut bytes = Vec::new();
                    write_state(&mut bytes)?;
                    w.write_all(&bytes)?;
                    self.data.state = bytes;
                }
                None => w.write_all(&self.data.state)?,
            }
            w.flush()?;
        }
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

fn read(path: &Path, file: File, fingerprint: &Fingerprint) -> Result<Checkpoint, CheckpointError> {
    let unreadable = |why: String| CheckpointError::Unreadable {
        path: path.to_owned(),
        why,
    };
    let mut r = BufReader::new(file);
    let mut first = Vec::new();
    r.by_ref()
        .take(256)
        .read_until(b'\n', &mut first)
        .map_err(|error| CheckpointError::Io {
            path: path.to_owned(),
            error,
        })?;
    if first.first() == Some(&b'{') {
        // Format 1 was a JSON document: {"format": "vpcflow-checkpoint", "version": 1, …}.
        return Err(CheckpointError::OldFormat {
            path: path.to_owned(),
            version: 1,
        });
    }
    let line = String::from_utf8_lossy(&first);
    let version = line
        .trim_end()
        .strip_prefix(MAGIC)
        .and_then(|v| v.trim().parse::<u32>().ok())
        .ok_or_else(|| unreadable("it does not begin with a checkpoint header".into()))?;
    if version != VERSION {
        return Err(if version < VERSION {
            CheckpointError::OldFormat {
                path: path.to_owned(),
                version,
            }
        } else {
            unreadable(format!(
                "format {version}, from a newer vpcflow than this one (format {VERSION})"
            ))
        });
    }
    let mut head_line = Vec::new();
    r.read_until(b'\n', &mut head_line)
        .map_err(|error| CheckpointError::Io {
            path: path.to_owned(),
            error,
        })?;
    let head: Head =
        serde_json::from_slice(&head_line).map_err(|e| unreadable(format!("its header: {e}")))?;
    let differs = fingerprint.differences(&head.fingerprint);
    if !differs.is_empty() {
        return Err(CheckpointError::Mismatch {
            path: path.to_owned(),
            differs,
        });
    }
    let mut state = Vec::new();
    r.read_to_end(&mut state)
        .map_err(|error| CheckpointError::Io {
            path: path.to_owned(),
            error,
        })?;
    Ok(Checkpoint {
        sources: head.sources,
        meta: head.meta,
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp() -> Fingerprint {
        Fingerprint::new("verdict")
            .with("catalogue", "[[endpoint]]")
            .with("window", "0..10")
    }

    #[test]
    fn round_trips_atomically_and_refuses_strangers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.ckpt");
        let mut c = CheckpointFile::open(&path, fp()).unwrap();
        assert_eq!(c.data, Checkpoint::default());
        c.data.sources.insert("b/k".into(), "\"e1\"".into());
        c.data.meta = serde_json::json!({"position_ms": 3});
        c.save(Some(&mut |w: &mut dyn Write| {
            w.write_all(b"\x00state\n\xff")
        }))
        .unwrap();
        drop(c);
        let back = CheckpointFile::open(&path, fp()).unwrap();
        assert!(back.data.is_done("b/k", "\"e1\""));
        assert!(!back.data.is_done("b/k", "\"e2\""));
        assert_eq!(back.data.state, b"\x00state\n\xff");
        assert_eq!(back.data.meta["position_ms"], 3);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_second_run_on_one_checkpoint_is_told_it_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.ckpt");
        let _first = CheckpointFile::open(&path, fp()).unwrap();
        let err = CheckpointFile::open(&path, fp()).unwrap_err();
        assert!(matches!(err, CheckpointError::Locked { .. }), "{err}");
        assert!(
            err.to_string().contains("in use by another vpcflow run"),
            "{err}"
        );
    }

    #[test]
    fn a_checkpoint_of_another_catalogue_or_window_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.ckpt");
        let mut c = CheckpointFile::open(&path, fp()).unwrap();
        c.save(None).unwrap();
        drop(c);
        let other = Fingerprint::new("verdict")
            .with("catalogue", "[[endpoint]] changed")
            .with("window", "0..11");
        let err = CheckpointFile::open(&path, other).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "checkpoint {} was made with a different catalogue, window; resuming it would \
                 mix two runs. Run with the same arguments, or delete the checkpoint to start over",
                path.display()
            )
        );
    }

    #[test]
    fn old_and_foreign_files_are_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.ckpt");
        std::fs::write(
            &path,
            r#"{"format":"vpcflow-checkpoint","version":1,"objects":{}}"#,
        )
        .unwrap();
        let err = CheckpointFile::open(&path, fp()).unwrap_err();
        assert!(
            matches!(err, CheckpointError::OldFormat { version: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("Delete it and run again"), "{err}");
        std::fs::write(&path, "hello\n").unwrap();
        let err = CheckpointFile::open(&path, fp()).unwrap_err();
        assert!(
            err.to_string().contains("is not a vpcflow checkpoint"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_link_at_the_temporary_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.ckpt");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        // The old predictable name, and anything like it, pointing at the victim.
        std::os::unix::fs::symlink(&victim, dir.path().join("c.ckpt.tmp")).unwrap();
        let mut c = CheckpointFile::open(&path, fp()).unwrap();
        c.save(Some(&mut |w: &mut dyn Write| w.write_all(&[7u8; 4096])))
            .unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert!(
            !std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
}
