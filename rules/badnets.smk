# The demo's BadNets, trained on poisoned synthetic data; real studies bring their own.
if DEMO:

    rule train_badnet:
        input:
            train="data/demo/clean_training_data.h5",
            valid="data/demo/clean_validation_data.h5",
        output:
            "models/demo/{badnet}.keras",
        log:
            "logs/{badnet}/train_badnet.log",
        benchmark:
            "benchmarks/{badnet}/train_badnet.tsv"
        conda:
            tf_env()
        threads: TRAINING_THREADS
        resources:
            mem_mb=4000,
            runtime=60,
            gpu=GPU,
        params:
            backdoor=demo_backdoor,
            training=DEMO["training"],
            num_classes=DEMO["num_classes"],
            input_scale=input_scale,
            seed=config["seed"],
            tf_threads=TRAINING_THREADS,
        script:
            "../scripts/train_badnet.py"
