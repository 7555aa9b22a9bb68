"""goodnet: repair backdoored classifiers (BadNets) with fine-pruning, and build GoodNets.

Fine-pruning (Liu, Dolan-Gavitt, Garg, RAID 2018), step by step, with the module of each.
Each step is a workflow stage: ``rules/<stage>.smk`` holds its rules, ``scripts/<rule>.py``
runs one rule, and ``goodnet/<stage>.py`` holds its logic.

0. The attack (demo only): synthetic faces (``faces``, the data files ``demo_data``), a
   trigger (``triggers``) stamped on some training images relabelled to the target, a
   DeepID trained on them (``attack``), or, with ``attack: pruning_aware``, built against
   pruning as the paper's adaptive attacker does (``attack_pruning_aware``).
1. ``activations``: mean activation of each channel of the last conv layer, on clean
   validation data only (computed in the ``sweep`` job, from the features it needs anyway).
2. ``sweep``: prune channels in increasing order of activation, recording clean accuracy
   and attack success rate after each (exact and fast: ``sweep_plan`` recognises the net
   after the pruned layer, ``sweep_incremental`` updates only what a channel changes);
   it also draws the activation picture (clean and poisoned mean activations in pruning
   order, with what each X prunes).
3. ``prune``: per threshold X, the fewest channels whose pruning costs X points of clean
   validation accuracy, deleted from a copy of the BadNet (one job for every X).
4. ``fine_tune``: fine-tune the pruned model on clean validation data (fine-pruning), or
   the BadNet itself (fine-tuning alone, the baseline).
5. ``evaluate``: every model on clean and poisoned test data (never used for a choice),
   one job per BadNet that reads the test sets once.
6. ``goodnet``: the BadNet and its fine-pruned copy side by side; where they disagree,
   class N, "poisoned".
7. ``report``: the summary table and plots; over a study's replicates (``replicates``:
   runs, seeds, paths) the mean, sd and 95 % intervals (``statistics``) and the band of
   the replicates' sweeps.

Shared by the stages: ``job`` (runs a stage as a Snakemake job), ``config``,
``data_io``, ``model_io`` (untrusted models; ``model_file`` reads a model file's config
without TensorFlow), ``architectures``, ``graph`` (the pruned layer and its cut),
``inference`` (and the check of a model's outputs), ``training``, ``metrics``
(accuracy, ASR, and with true labels robust accuracy and the non-target ASR),
``memory``, ``plots``, ``atomic`` (atomic writes, umask modes, a full disk), ``runtime``
(quiet TensorFlow, threads, seeds), ``errors``; ``cli`` is the ``goodnet`` command.
"""

__version__ = "0.1.0"
