//! Patch databases (§4 of the paper): cut every patch of some digits into a database file,
//! then find the database patches nearest to a window of another image.
//!
//! `cargo run --release --example patches` (about a second).
use fcollide::prelude::*;

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    // 200 of the embedded training digits, 14×14 patches every 2 pixels.
    let source = open_dataset("embedded", &SourceOptions::default())?;
    let params = BuildParams {
        size: 14,
        stride: 2,
        limit_images: Some(200),
        description: None,
    };
    let path = std::env::temp_dir().join(format!("fcollide-example-{}.fcpd", std::process::id()));
    let header = build_patch_db(source.as_ref(), &params, None, &path, &Silent)?;
    println!("{} patches from {} images", header.n, header.n_images);

    // The 5 nearest patches of the centre window of a test digit (exact search).
    let db = PatchDb::open(&path)?;
    let (_, test_set) = mnist_split(0)?;
    let q = db.query(db.view(), test_set.image(0), None, 5)?;
    for h in &q.hits {
        println!(
            "d2 {:.4}: patch {} of image {} at row {}, column {}",
            h.dist, h.id, h.image_name, h.source.row, h.source.col
        );
    }
    drop(db);
    std::fs::remove_file(&path)?;
    Ok(())
}
