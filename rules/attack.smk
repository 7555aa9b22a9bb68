# The BadNets attack, as the demo plays it: a DeepID trained on poisoned synthetic data.
# Real studies bring their own BadNets. Replicate r > 1 of a demo BadNet is its own
# training with its own seed: models/demo/<B>/rep<r>.keras.
if DEMO:

    rule attack:
        input:
            train=rules.demo_data.output.train,
            valid=rules.demo_data.output.valid,
        output:
            model="models/demo/{badnet}.keras",
        log:
            "logs/{badnet}/attack.log",
        benchmark:
            "benchmarks/{badnet}/attack.tsv"
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
            seed=run_seed,
            tf_threads=TRAINING_THREADS,
        script:
            "../scripts/attack.py"
