//! `fcollide inspect`: describe a model, and with `--input` what it makes of an image.
use super::inputs::load_model;
use super::Ctx;
use crate::args::commands::InspectCmd;
use anyhow::{Context, Result};

pub fn run(a: &InspectCmd, ctx: &Ctx) -> Result<()> {
    let net = load_model(&a.model, a.arch.as_deref(), a.normalize.clone())?;
    if a.hyperplanes {
        return hyperplanes(a, &net);
    }
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

/// `--hyperplanes`: the pairwise cosine similarity of each layer's unit hyperplanes, as a
/// table on stdout (or JSON), and with `--out` the files.
fn hyperplanes(a: &InspectCmd, net: &fcollide::model::Graph) -> Result<()> {
    use fcollide::model::hyperplanes::{hyperplanes, hyperplanes_table, save_histograms};
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed);
    let layers = hyperplanes(net, a.max_rows as usize, &mut rng);
    if layers.is_empty() {
        anyhow::bail!(
            "{}: the model has no Linear or Conv2d layer",
            a.model.display()
        );
    }
    let table = hyperplanes_table(&layers).to_markdown();
    if let Some(out) = &a.out {
        let files = save_histograms(&layers, out)?;
        let json = serde_json::to_string_pretty(&layers)? + "\n";
        fcollide::model::io::write_atomic(&out.join("hyperplanes.json"), json.as_bytes())?;
        let md = format!(
            "# Unit hyperplanes of {}\n\n{table}\n\nPairs i < j of rows of W (conv: \
             flattened filters) with a nonzero norm; at most {} rows per layer (a sample \
             seeded by {} beyond that). The penalty of §5.2 is the sum of max(0, cos) \
             over pairs.\n",
            a.model.display(),
            a.max_rows,
            a.seed
        );
        fcollide::model::io::write_atomic(&out.join("hyperplanes.md"), md.as_bytes())?;
        eprintln!(
            "wrote {} (hyperplanes.json, hyperplanes.md, {} histograms)",
            out.display(),
            files.len()
        );
    }
    if a.json {
        out!("{}", serde_json::to_string_pretty(&layers)? + "\n");
    } else {
        out!("{table}\n");
    }
    Ok(())
}
