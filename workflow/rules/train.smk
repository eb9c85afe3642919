# One training job per (dataset, method, sigma, lambda, seed, fold). The Baseline is lambda = 0.


def train_flags(wc):
    """`g2rl train` options of one job from the config's model and train sections."""
    m, t = config["model"], config["train"]
    flags = [
        f"--backbone {m['backbone']}",
        f"--deconv-channels {','.join(map(str, m['deconv_channels']))}",
        f"--aux-weight {m['aux_weight']}",
        f"--epochs {t['epochs']}",
        f"--batch-size {t['batch_size']}",
        f"--lr {t['lr']}",
        f"--lr-gamma {t['lr_gamma']}",
        f"--weight-decay {t['weight_decay']}",
        f"--num-workers {t['num_workers']}",
        f"--amp {t['amp']}",
        f"--channels-last {t['channels_last']}",
    ]
    if t["lr_step_epochs"]:
        flags.append(f"--lr-step-epochs {','.join(map(str, t['lr_step_epochs']))}")
    if m["pretrained"]:
        flags.append(f"--pretrained {shlex.quote(m['pretrained'])}")
    if t["max_train_samples"]:
        flags.append(f"--max-train-samples {t['max_train_samples']}")
    if t["gpus"] > 0:
        # explicit, so a broken CUDA setup stops the job with one line instead of training on the CPU
        flags.append("--device cuda")
    if wc.method == "g2rl":
        flags.append(f"--lambda {wc.lam}")
    return " ".join(flags)


rule train:
    input:
        crops=f"{RESULTS}/{{dataset}}/cache/crops.h5",
        heatmaps=f"{RESULTS}/{{dataset}}/cache/heatmaps_sigma{{sigma}}.h5",
    output:
        predictions=f"{RESULTS}/{{dataset}}/runs/{{method}}/sigma{{sigma}}/lambda{{lam}}/seed{{seed}}/fold{{fold}}/predictions.csv",
        model=f"{RESULTS}/{{dataset}}/runs/{{method}}/sigma{{sigma}}/lambda{{lam}}/seed{{seed}}/fold{{fold}}/model.pt",
        train_log=f"{RESULTS}/{{dataset}}/runs/{{method}}/sigma{{sigma}}/lambda{{lam}}/seed{{seed}}/fold{{fold}}/train_log.csv",
        diagnostics=f"{RESULTS}/{{dataset}}/runs/{{method}}/sigma{{sigma}}/lambda{{lam}}/seed{{seed}}/fold{{fold}}/diagnostics.json",
    log:
        f"{RESULTS}/logs/{{dataset}}/train/{{method}}_sigma{{sigma}}_lambda{{lam}}_seed{{seed}}_fold{{fold}}.log",
    params:
        out_dir=lambda wc, output: str(Path(output.predictions).parent),
        sigma=lambda wc: sigma_values()[wc.sigma],
        flags=train_flags,
    # Snakemake exports OMP_NUM_THREADS={threads} to the job, which sets torch's intra-op threads.
    threads: config["train"]["threads"]
    resources:
        gpu=config["train"]["gpus"],
    conda:
        CONDA_ENV
    # --on-stale-resume restart: a last.pt of a killed run whose inputs changed since (new cache, other
    # folds) is not continued; Snakemake reruns the job because of that change, so it starts over.
    shell:
        "{G2RL} train --crops {input.crops} --heatmaps {input.heatmaps} --test-split {wildcards.fold} "
        "--out {params.out_dir} --method {wildcards.method} --sigma {params.sigma} --seed {wildcards.seed} "
        "--on-stale-resume restart "
        "{params.flags} > {log} 2>&1"
