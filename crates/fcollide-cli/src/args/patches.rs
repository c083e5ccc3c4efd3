//! The flags of `patches build|info|index|query`.
use super::common::{count_in, MAX_K, MAX_PATCH_SIDE};
use super::values::DirectionsArg;
use clap::{Args, Subcommand};
use fcollide::patches::knn::{Budget, DciParams};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum PatchesCommand {
    /// Cut every patch of every image of a data set into a database file (streamed to disk;
    /// later memory-mapped).
    Build(BuildCmd),
    /// Check a database file and print its header.
    Info {
        /// The database file.
        file: PathBuf,
    },
    /// Build a Prioritized DCI index over a database's rows and save it (defaults: the
    /// multi-level setting measured on 10⁶ MNIST patches, see BENCHMARKS.md).
    Index(IndexCmd),
    /// The nearest database patches of a window of an image.
    Query(QueryCmd),
}

#[derive(Args, Debug)]
pub struct BuildCmd {
    /// `embedded` (the 8,000 training digits of the embedded split, see --split-seed),
    /// `embedded-all` (all 10,000), an IDX3 file (`*-idx3-ubyte[.gz]`), a folder in the
    /// MNIST layout, or a folder of JPEG/PNG images (searched recursively, RGB).
    #[arg(long)]
    pub dataset: String,
    /// Patch side (the default matches `reproduce patches --patch-size`).
    #[arg(long, default_value_t = 14, allow_hyphen_values = true, value_parser = count_in(1, MAX_PATCH_SIDE))]
    pub size: usize,
    /// Stride between patches.
    #[arg(long, default_value_t = 1, allow_hyphen_values = true, value_parser = count_in(1, MAX_PATCH_SIDE))]
    pub stride: usize,
    /// Search on a Gaussian random projection of the patches to this many dimensions
    /// (the raw patches are stored too).
    #[arg(long, allow_negative_numbers = true)]
    pub project: Option<usize>,
    /// Seed of the projection.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    pub seed: u64,
    /// Use only the first N images.
    #[arg(long, allow_negative_numbers = true)]
    pub limit_images: Option<usize>,
    /// Folder of images: resize and centre-crop each to this side.
    #[arg(long, allow_negative_numbers = true, default_value_t = 224)]
    pub side: usize,
    /// `embedded`: seed of the train/test split (use the --seed of `reproduce patches`).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    pub split_seed: u64,
    /// Description stored in the file (default: what the images are).
    #[arg(long)]
    pub description: Option<String>,
    /// The database file to write.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct IndexCmd {
    /// The database file.
    pub file: PathBuf,
    /// The index file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Levels λ (1: the one-level index of the paper's Algorithms 1–2).
    #[arg(long, allow_negative_numbers = true, default_value_t = DciParams::default().num_levels)]
    pub levels: usize,
    /// Field of view F: nodes kept per level at query time (for k ≤ 10; ⌈F·√(k/10)⌉
    /// for more neighbours).
    #[arg(long, allow_negative_numbers = true, default_value_t = DciParams::default().field_of_view)]
    pub field_of_view: usize,
    /// Field of view of the parent search at construction.
    #[arg(long, allow_negative_numbers = true, default_value_t = DciParams::default().construction_field_of_view)]
    pub construction_field_of_view: usize,
    /// Composite indices L.
    #[arg(long, allow_negative_numbers = true, default_value_t = DciParams::default().num_composite)]
    pub composite: usize,
    /// Simple indices per composite index m (only used when --retrieve is below a
    /// level's candidate set).
    #[arg(long, allow_negative_numbers = true, default_value_t = DciParams::default().num_simple)]
    pub simple: usize,
    /// Candidates per composite index and level k0: `all` (evaluate each level's
    /// candidate set exactly), a count, or a fraction of the candidate set (`0.25`).
    #[arg(long, default_value = "all")]
    pub retrieve: Budget,
    /// Visits per composite index and level k1: `all`, a count, or a fraction of
    /// m·|candidate set| (`0.05`).
    #[arg(long, default_value = "all")]
    pub visit: Budget,
    /// Directions: isotropic (the paper) or data (differences of data points).
    #[arg(long, value_enum, default_value = "isotropic")]
    pub directions: DirectionsArg,
    /// Seed of the directions.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    pub index_seed: u64,
}

#[derive(Args, Debug)]
pub struct QueryCmd {
    /// The database file.
    pub file: PathBuf,
    /// The image (PNG/JPEG; resized and centre-cropped to the database's image size).
    #[arg(long)]
    pub image: PathBuf,
    /// Number of patches.
    #[arg(long, default_value_t = 10, allow_hyphen_values = true, value_parser = count_in(1, MAX_K))]
    pub k: usize,
    /// A DCI index over the database (default: exact search).
    #[arg(long)]
    pub index: Option<PathBuf>,
    /// Top row of the window (with --col; default: the centre window).
    #[arg(long, allow_negative_numbers = true, requires = "col")]
    pub row: Option<usize>,
    /// Left column of the window.
    #[arg(long, allow_negative_numbers = true, requires = "row")]
    pub col: Option<usize>,
    /// Also draw the window and its nearest patches into this PNG.
    #[arg(long)]
    pub grid: Option<PathBuf>,
}
