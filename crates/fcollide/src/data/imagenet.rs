//! The 1000 ImageNet-1k class names, compiled into the library, for top-5 lists in reports.
//!
//! Index `i` is the name of output `i` of an ImageNet classifier in the standard class order
//! (torchvision's models and the `vgg16_weights.npz` conversion both use it). The list is
//! `data/imagenet-classes.txt` at the repository root, written by
//! `scripts/make_imagenet_labels.py` from torchvision's `_IMAGENET_CATEGORIES` (BSD-3-Clause;
//! provenance and checksum in `data/README.md`).

/// The class names, one per line, in class-index order.
pub const CLASSES_TXT: &str = include_str!("../../../../data/imagenet-classes.txt");

/// Number of ImageNet-1k classes.
pub const NUM_CLASSES: usize = 1000;

/// The 1000 class names in class-index order.
pub fn classes() -> Vec<String> {
    CLASSES_TXT.lines().map(str::to_string).collect()
}

/// Class names for a classifier with `outputs` classes: the ImageNet names when `outputs` is
/// 1000, otherwise none (reports then print class indices).
pub fn labels_for(outputs: usize) -> Vec<String> {
    if outputs == NUM_CLASSES {
        classes()
    } else {
        Vec::new()
    }
}

/// Most class names a labels file may list.
pub const MAX_LABELS: usize = 1_000_000;

/// Reads a class-names file: one name per line (trimmed), at most `max_text_bytes`
/// ([`crate::limits`]) and [`MAX_LABELS`] lines; only regular files are read.
pub fn read_labels_file(path: &std::path::Path) -> Result<Vec<String>, super::DataError> {
    let text = crate::fsutil::read_text(path).map_err(|source| super::DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let names: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
    if names.len() > MAX_LABELS {
        return Err(super::DataError::Limit {
            name: path.display().to_string(),
            msg: format!("{} lines, more than {MAX_LABELS} class names", names.len()),
        });
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_files_are_read_bounded_and_only_when_regular() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labels.txt");
        std::fs::write(&p, "cat \n dog\n").unwrap();
        assert_eq!(read_labels_file(&p).unwrap(), ["cat", "dog"]);
        let err = read_labels_file(dir.path()).unwrap_err().to_string();
        assert!(err.contains("a directory"), "{err}");
        #[cfg(unix)]
        {
            let err = read_labels_file(std::path::Path::new("/dev/zero"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("/dev/zero") && err.contains("character device"),
                "{err}"
            );
        }
        std::fs::write(&p, [0xffu8, 0xfe]).unwrap();
        assert!(read_labels_file(&p)
            .unwrap_err()
            .to_string()
            .contains("UTF-8"));
    }

    #[test]
    fn thousand_distinct_one_line_names_in_standard_order() {
        let c = classes();
        assert_eq!(c.len(), NUM_CLASSES);
        assert!(c.iter().all(|n| !n.trim().is_empty() && n.trim() == n));
        // Spot checks against the standard ImageNet-1k index order (synsets sorted by WordNet
        // id): 0 n01440764 tench, 1 n01443537 goldfish, 207 n02099601 golden retriever,
        // 281 n02123045 tabby, 999 n15075141 toilet tissue.
        assert_eq!(c[0], "tench");
        assert_eq!(c[1], "goldfish");
        assert_eq!(c[207], "golden retriever");
        assert_eq!(c[281], "tabby");
        assert_eq!(c[999], "toilet tissue");
        assert_eq!(labels_for(1000).len(), 1000);
        assert!(labels_for(10).is_empty());
    }
}
