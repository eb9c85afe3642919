# Frame index -> landmarks (one job per video / image sequence) -> aligned-crop cache -> heatmap cache per sigma.


rule landmarks:
    input:
        index=f"{RESULTS}/{{dataset}}/frame_index.csv",
    output:
        f"{RESULTS}/{{dataset}}/landmarks/{{subject}}/{{session}}.csv",
    log:
        f"{RESULTS}/logs/{{dataset}}/landmarks/{{subject}}_{{session}}.log",
    # wall time, CPU time and peak memory of each job (max_rss, MB): docs/CLUSTER.md sizes SLURM from them
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/landmarks/{{subject}}_{{session}}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    params:
        media=lambda wc: sequence_table(wc.dataset)[(wc.subject, wc.session)],
        mode=lambda wc: ([] if config["landmarks"]["fast"] else ["--plain"])
        + (["--sequence"] if wc.dataset == "bp4d" else []),
        detect_scale=config["landmarks"]["detect_scale"],
        redetect_every=config["landmarks"]["redetect_every"],
        detector=config["landmarks"]["detector"],
    shell:
        '"$G2RL_PYTHON" -m g2rl landmarks {params.media:q} --out {output:q} {params.mode:q} '
        "--detect-scale {params.detect_scale:q} --redetect-every {params.redetect_every:q} --require-face "
        "--detector {params.detector:q} --no-progress > {log:q} 2>&1"


rule crop_cache:
    input:
        index=f"{RESULTS}/{{dataset}}/frame_index.csv",
        landmarks=landmark_files,
    output:
        f"{RESULTS}/{{dataset}}/cache/crops.h5",
    log:
        f"{RESULTS}/logs/{{dataset}}/crop_cache.log",
    # wall time, CPU time and peak memory of each job (max_rss, MB): docs/CLUSTER.md sizes SLURM from them
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/crop_cache.tsv"
    conda:
        CONDA_ENV
    params:
        landmarks_dir=f"{RESULTS}/{{dataset}}/landmarks",
        crop_size=config["preprocess"]["crop_size"],
        max_gap=config["landmarks"]["max_gap"],
        aus=lambda wc: ",".join(aus_of(wc.dataset)),
        au_points=json_arg(config["preprocess"]["au_points"]),
    shell:
        '"$G2RL_PYTHON" -m g2rl cache crops --index {input.index:q} --landmarks-dir {params.landmarks_dir:q} '
        "--out {output:q} --crop-size {params.crop_size:q} --max-gap {params.max_gap:q} --aus {params.aus:q} "
        "--au-points {params.au_points:q} --no-progress > {log:q} 2>&1"


rule heatmap_cache:
    input:
        f"{RESULTS}/{{dataset}}/cache/crops.h5",
    output:
        f"{RESULTS}/{{dataset}}/cache/heatmaps_sigma{{sigma}}.h5",
    log:
        f"{RESULTS}/logs/{{dataset}}/heatmap_cache_sigma{{sigma}}.log",
    # wall time, CPU time and peak memory of each job (max_rss, MB): docs/CLUSTER.md sizes SLURM from them
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/heatmap_cache_sigma{{sigma}}.tsv"
    conda:
        CONDA_ENV
    params:
        sigma=lambda wc: sigma_values()[wc.sigma],
        au_points=json_arg(config["preprocess"]["au_points"]),
        layout=config["preprocess"]["heatmap_layout"],
        peak=config["preprocess"]["heatmap_peak"],
    shell:
        '"$G2RL_PYTHON" -m g2rl cache heatmaps --crops {input:q} --sigma {params.sigma:q} '
        "--au-points {params.au_points:q} --heatmap-layout {params.layout:q} --peak {params.peak:q} --out {output:q} "
        "> {log:q} 2>&1"


# An ablation variant's heatmaps (other AU points, layout or peak), from the same crops.
rule heatmap_cache_variant:
    input:
        f"{RESULTS}/{{dataset}}/cache/crops.h5",
    output:
        f"{RESULTS}/{{dataset}}/cache/{{points}}-{{layout}}-{{peak}}/heatmaps_sigma{{sigma}}.h5",
    log:
        f"{RESULTS}/logs/{{dataset}}/heatmap_cache_{{points}}-{{layout}}-{{peak}}_sigma{{sigma}}.log",
    wildcard_constraints:
        points="hr|pairs",
        layout="per_au|per_point",
        peak="eq1|intensity",
    conda:
        CONDA_ENV
    params:
        sigma=lambda wc: sigma_values()[wc.sigma],
    shell:
        '"$G2RL_PYTHON" -m g2rl cache heatmaps --crops {input:q} --sigma {params.sigma:q} '
        "--au-points {wildcards.points:q} --heatmap-layout {wildcards.layout:q} --peak {wildcards.peak:q} --out {output:q} "
        "> {log:q} 2>&1"
