# One training job per (dataset, method, sigma, lambda, seed, fold). The Baseline is lambda = 0.


def train_settings(wc):
    """Training hyper-parameters of one job, as the JSON that `g2rl train --settings` takes."""
    return jarg(
        {
            **config["train"],
            **config["model"],
            "sigma": sigma_values()[wc.sigma],
            "lambda_g": 0.0 if wc.method == "baseline" else float(wc.lam),
        }
    )


rule train:
    input:
        crops=f"{RESULTS}/{{dataset}}/cache/crops.h5",
        heatmaps=f"{RESULTS}/{{dataset}}/cache/heatmaps_sigma{{sigma}}.h5",
    output:
        predictions=f"{RESULTS}/{{dataset}}/runs/{{method}}/sigma{{sigma}}/lambda{{lam}}/seed{{seed}}/fold{{fold}}/predictions.csv",
        model=f"{RESULTS}/{{dataset}}/runs/{{method}}/sigma{{sigma}}/lambda{{lam}}/seed{{seed}}/fold{{fold}}/model.pt",
        train_log=f"{RESULTS}/{{dataset}}/runs/{{method}}/sigma{{sigma}}/lambda{{lam}}/seed{{seed}}/fold{{fold}}/train_log.csv",
    log:
        f"{RESULTS}/logs/{{dataset}}/train/{{method}}_sigma{{sigma}}_lambda{{lam}}_seed{{seed}}_fold{{fold}}.log",
    params:
        out_dir=lambda wc, output: str(Path(output.predictions).parent),
        settings=train_settings,
    threads: config["train"]["threads"]
    resources:
        gpu=1,
    conda:
        CONDA_ENV
    shell:
        "{G2RL} train --crops {input.crops} --heatmaps {input.heatmaps} --test-split {wildcards.fold} "
        "--out {params.out_dir} --method {wildcards.method} --seed {wildcards.seed} --threads {threads} "
        "--settings {params.settings} > {log} 2>&1"
