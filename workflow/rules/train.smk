# One training job per (dataset, method, sigma, lambda, seed, fold). The Baseline is lambda = 0.


def train_flags(wc):
    """`g2rl train` options of one job from the config's model and train sections."""
    m, t = config["model"], config["train"]
    flags = [
        *method_model_config(config, wc.method).cli_flags(),  # every ModelConfig field, variant applied
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
        flags.append(f"--pretrained {shlex.quote(weights_file())}")
    if m["allow_random_init"]:
        flags.append("--allow-random-init")
    if t["max_train_samples"]:
        flags.append(f"--max-train-samples {t['max_train_samples']}")
    if t["gpus"] > 0:
        # explicit, so a broken CUDA setup stops the job with one line instead of training on the CPU
        flags.append("--device cuda")
    if wc.method != "baseline":
        flags.append(f"--lambda {wc.lam}")
    return " ".join(flags)


def weights_file():
    """The file a training loads: the `weights` rule's export for torchvision names, else the user's file."""
    m = config["model"]
    if m["pretrained"] in IMAGENET_CHOICES:
        return f"resources/weights/{m['backbone']}_{m['pretrained']}.pth"
    return m["pretrained"]


# Resolved once, on the submit host (a localrule): torch hub cache, download when online, hash check.
rule weights:
    output:
        "resources/weights/{backbone}_{choice}.pth",
    log:
        f"{RESULTS}/logs/weights_{{backbone}}_{{choice}}.log",
    wildcard_constraints:
        backbone=r"resnet\d+",
        choice="|".join(IMAGENET_CHOICES),
    conda:
        CONDA_ENV
    shell:
        "{G2RL} weights --backbone {wildcards.backbone} --pretrained {wildcards.choice} --out {output} > {log} 2>&1"


rule train:
    input:
        crops=f"{RESULTS}/{{dataset}}/cache/crops.h5",
        heatmaps=lambda wc: heatmap_cache(config, wc.dataset, wc.method, wc.sigma),
        weights=lambda wc: [weights_file()] if config["model"]["pretrained"] else [],
    output:
        predictions=f"{RESULTS}/{{dataset}}/runs/{{method}}/sigma{{sigma}}/lambda{{lam}}/seed{{seed}}/fold{{fold}}/predictions.csv",
        model=f"{RESULTS}/{{dataset}}/runs/{{method}}/sigma{{sigma}}/lambda{{lam}}/seed{{seed}}/fold{{fold}}/model.pt",
        train_log=f"{RESULTS}/{{dataset}}/runs/{{method}}/sigma{{sigma}}/lambda{{lam}}/seed{{seed}}/fold{{fold}}/train_log.csv",
        diagnostics=f"{RESULTS}/{{dataset}}/runs/{{method}}/sigma{{sigma}}/lambda{{lam}}/seed{{seed}}/fold{{fold}}/diagnostics.json",
        provenance=f"{RESULTS}/{{dataset}}/runs/{{method}}/sigma{{sigma}}/lambda{{lam}}/seed{{seed}}/fold{{fold}}/predictions.provenance.json",
    log:
        f"{RESULTS}/logs/{{dataset}}/train/{{method}}_sigma{{sigma}}_lambda{{lam}}_seed{{seed}}_fold{{fold}}.log",
    params:
        out_dir=lambda wc, output: str(Path(output.predictions).parent),
        sigma=lambda wc: sigma_values()[wc.sigma],
        flags=train_flags,
        method=lambda wc: "baseline" if wc.method == "baseline" else "g2rl",  # g2rl-<variant>: a G2RL run
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
        "--out {params.out_dir} --method {params.method} --sigma {params.sigma} --seed {wildcards.seed} "
        "--on-stale-resume restart "
        "{params.flags} > {log} 2>&1"
