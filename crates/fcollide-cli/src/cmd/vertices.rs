//! `fcollide vertices`: find colliding vertices for a target and save them.
use super::inputs::{check_out, load_data, read_image};
use super::Ctx;
use crate::args::commands::VerticesCmd;
use crate::params;
use anyhow::Result;
use fcollide::collide::io::{save_vertices, VertexFile};
use fcollide::collide::{find_vertices_checkpointed, Checkpointing};

pub fn run(a: &VerticesCmd, ctx: &Ctx) -> Result<()> {
    let p = params::check_search(params::search(&a.search)?)?;
    check_out(&a.out, "--out")?;
    if let Some(c) = &a.checkpoint {
        check_out(c, "--checkpoint")?;
    }
    let net = a.model.load()?;
    let (_, test) = load_data(&a.data)?;
    let t = read_image(&a.target, &test, &net, "target")?;
    let i = if a.init == "target" {
        t.clone()
    } else {
        read_image(&a.init, &test, &net, "init")?
    };
    let ckpt = a.checkpoint.clone().map(|path| Checkpointing {
        path,
        every: a.checkpoint_every,
        resume: a.resume,
    });
    let set = find_vertices_checkpointed(&net, &t, &i, &p, &ctx.device, &ctx.bars, ckpt.as_ref())?;
    for (k, s) in set.stats.iter().enumerate() {
        outln!(
            "vertex {k}: unit {} class {} ({:.4}) feature error {:.2e} L+ {:.2e} Z ok {:.1} %",
            s.unit,
            s.class,
            s.confidence,
            s.feature_rel_err,
            s.l_plus,
            100.0 * s.z_satisfied
        );
    }
    let k = set.len();
    save_vertices(
        &VertexFile {
            set,
            target: t,
            init: i.repeat(if i.len() == net.input_len() { k } else { 1 }),
            params: serde_json::to_value(&*p)?,
        },
        &a.out,
    )?;
    outln!("wrote {}", a.out.display());
    Ok(())
}
