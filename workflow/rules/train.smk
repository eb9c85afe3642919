# One training job per (dataset, method, sigma, lambda, seed, fold). The Baseline is lambda = 0.


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
        '"$G2RL_PYTHON" -m g2rl weights --backbone {wildcards.backbone:q} --pretrained {wildcards.choice:q} '
        "--out {output:q} > {log:q} 2>&1"


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
    # wall time, CPU time and peak memory of each job (max_rss, MB): docs/CLUSTER.md sizes SLURM from them
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/train/{{method}}_sigma{{sigma}}_lambda{{lam}}_seed{{seed}}_fold{{fold}}.tsv"
    conda:
        CONDA_ENV
    # Snakemake exports OMP_NUM_THREADS={threads} to the job, which sets torch's intra-op threads.
    threads: config["train"]["threads"]
    # jobs_per_gpu: how many trainings share one card (g2rl/training/gpu_slots.py places each on a free slot).
    # A resource, not a param: where a job computes changes no result, so changing it must rerun nothing.
    resources:
        gpu=config["train"]["gpus"],
        jobs_per_gpu=config["train"]["jobs_per_gpu"],
    params:
        out_dir=lambda wc, output: str(Path(output.predictions).parent),
        sigma=lambda wc: sigma_values()[wc.sigma],
        flags=train_flags,
        # g2rl-<variant>: a G2RL run; baseline-<variant>: a Baseline run on the variant's heatmaps
        method=lambda wc: "baseline" if is_baseline(wc.method) else "g2rl",
    # --on-stale-resume restart: a last.pt of a killed run whose inputs changed since (new cache, other
    # folds) is not continued; Snakemake reruns the job because of that change, so it starts over.
    shell:
        '"$G2RL_PYTHON" -m g2rl train --crops {input.crops:q} --heatmaps {input.heatmaps:q} '
        "--test-split {wildcards.fold:q} --out {params.out_dir:q} --method {params.method:q} "
        "--sigma {params.sigma:q} --seed {wildcards.seed:q} --on-stale-resume restart {params.flags:q} "
        "--jobs-per-gpu {resources.jobs_per_gpu:q} > {log:q} 2>&1"
