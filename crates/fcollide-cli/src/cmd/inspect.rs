//! `fcollide inspect`: describe a model, and with `--input` what it makes of an image.
use super::inputs::load_model;
use super::Ctx;
use crate::args::commands::InspectCmd;
use anyhow::{Context, Result};

pub fn run(a: &InspectCmd, ctx: &Ctx) -> Result<()> {
    let net = load_model(&a.model, a.arch.as_deref(), a.normalize.clone())?;
    let x = match &a.input {
        Some(p) => Some(
            fcollide::data::image_file::read_image_with(p, net.input_shape, a.resize.into())
                .context("--input")?,
        ),
        None => None,
    };
    let outputs = net.shapes()?[net.output()].len();
    let names = match &a.labels {
        Some(p) => fcollide::data::imagenet::read_labels_file(p).context("--labels")?,
        None => fcollide::data::imagenet::labels_for(outputs),
    };
    let i = fcollide::model::inspect::inspect(&net, x.as_deref(), &names, &ctx.device)?;
    let text = if a.json {
        serde_json::to_string_pretty(&i)? + "\n"
    } else {
        i.to_text()
    };
    out!("{text}");
    Ok(())
}
