//! `fcollide patches build|info|index|query`: patch databases and their DCI indices.
use super::Ctx;
use crate::args::patches::{BuildCmd, IndexCmd, PatchesCommand, QueryCmd};
use crate::params;
use anyhow::Result;
use fcollide::patches::db::{self, BuildParams, PatchDb, Projection, SourceOptions};
use std::path::Path;

pub fn run(command: PatchesCommand, ctx: &Ctx) -> Result<()> {
    match command {
        PatchesCommand::Build(a) => build(a, ctx),
        PatchesCommand::Info { file } => info(&file),
        PatchesCommand::Index(a) => index(&a),
        PatchesCommand::Query(a) => query(&a),
    }
}

fn build(a: BuildCmd, ctx: &Ctx) -> Result<()> {
    build_db(a, ctx).map_err(|e| params::name_flag(e, params::BUILD_FLAGS))
}

fn build_db(a: BuildCmd, ctx: &Ctx) -> Result<()> {
    let source = db::open_dataset(
        &a.dataset,
        &SourceOptions {
            side: a.side,
            split_seed: a.split_seed,
        },
    )?;
    let params = BuildParams {
        size: a.size,
        stride: a.stride,
        limit_images: a.limit_images,
        description: a.description,
    };
    let projection = match a.project {
        Some(dim) => Some(Projection::seeded(
            dim,
            params.raw_dim(source.as_ref()),
            a.seed,
        )?),
        None => None,
    };
    let h = db::build(
        source.as_ref(),
        &params,
        projection.as_ref(),
        &a.out,
        &ctx.bars,
    )?;
    outln!(
        "wrote {}: {} patches of {}×{}×{} from {} images, search rows of {} values",
        a.out.display(),
        h.n,
        h.channels,
        h.size,
        h.size,
        h.n_images,
        h.dim
    );
    Ok(())
}

fn info(file: &Path) -> Result<()> {
    out!("{}", PatchDb::open(file)?.summary());
    Ok(())
}

fn index(a: &IndexCmd) -> Result<()> {
    let pdb = PatchDb::open(&a.file)?;
    let t0 = std::time::Instant::now();
    let index = pdb
        .build_index(params::index(a))
        .map_err(|e| params::name_flag(e, params::INDEX_FLAGS))?;
    index.save(&a.out)?;
    let sizes: Vec<String> = index.level_sizes().iter().map(|s| s.to_string()).collect();
    outln!(
        "indexed {} rows of {} values ({} distinct; levels of {} points; {} × {} simple indices) in {:.1} s; wrote {}",
        index.len(),
        index.dim(),
        index.num_distinct(),
        sizes.join(" / "),
        a.composite,
        a.simple,
        t0.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(())
}

fn query(a: &QueryCmd) -> Result<()> {
    let pdb = PatchDb::open(&a.file)?;
    let ix = match &a.index {
        Some(p) => Some(pdb.load_index(p)?),
        None => None,
    };
    let view = match &ix {
        Some(ix) => pdb.view().with_index(ix)?,
        None => pdb.view(),
    };
    let shape = pdb.header().image_shape;
    let img = fcollide::data::image_file::read_image(&a.image, shape)?;
    let q = pdb.query(view, &img, a.row.zip(a.col), a.k)?;
    outln!(
        "{} ({}×{}), window at row {}, column {}: {} nearest patches{}",
        a.image.display(),
        shape[1],
        shape[2],
        q.corner.0,
        q.corner.1,
        q.hits.len(),
        if ix.is_some() { " (DCI index)" } else { "" }
    );
    for (r, h) in q.hits.iter().enumerate() {
        outln!(
            "{:>3}  d2 {:.4}  patch {}  image {}  row {}  col {}",
            r + 1,
            h.dist,
            h.id,
            h.image_name,
            h.source.row,
            h.source.col
        );
    }
    if let Some(g) = &a.grid {
        pdb.query_grid(&q)?.save(g)?;
        outln!("wrote {}", g.display());
    }
    Ok(())
}
