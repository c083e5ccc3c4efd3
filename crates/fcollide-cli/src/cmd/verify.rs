//! `fcollide verify`: sample the polytope of saved vertices and measure it.
use super::Ctx;
use crate::args::commands::VerifyCmd;
use crate::params;
use anyhow::{bail, Result};
use fcollide::collide::io::load_vertices;
use fcollide::polytope::verify;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub fn run(a: &VerifyCmd, ctx: &Ctx) -> Result<()> {
    let net = a.model.load()?;
    let mut vf = load_vertices(&a.vertices)?;
    if let Some(t) = a.collision_tol {
        vf.set.collision_tol = params::collision_tol(t)?;
    }
    if vf.set.shape != net.input_shape {
        bail!(
            "{}: vertices are {:?} images but the model takes {:?}",
            a.vertices.display(),
            vf.set.shape,
            net.input_shape
        );
    }
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let (v, _) = verify(&net, &vf.target, &vf.set, a.samples, &ctx.device, &mut rng)?;
    eprintln!(
        "{}",
        fcollide::run::record::verdict_line(
            v.verdict,
            v.certified,
            v.certified_error_bound,
            v.feature_rel_err_max.max(v.vertex_feature_rel_err_max),
            v.collision_tol
        )
    );
    let json = serde_json::to_string_pretty(&v)?;
    match &a.out {
        Some(p) => {
            fcollide::model::io::write_atomic(p, json.as_bytes())?;
            outln!("wrote {}", p.display());
        }
        None => outln!("{json}"),
    }
    Ok(())
}
