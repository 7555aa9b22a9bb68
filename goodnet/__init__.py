"""goodnet: repair backdoored classifiers (BadNets) with fine-pruning, and build GoodNets.

The method (Liu, Dolan-Gavitt, Garg, RAID 2018), step by step, with its module. Each step
is a workflow stage: ``rules/<stage>.smk`` holds its rules, ``scripts/<rule>.py`` runs one
rule, and ``goodnet/<stage>.py`` holds its logic, in a function whose keyword arguments
are the rule's named inputs, outputs and params.

1. ``sweep``: the mean activation of each channel of the last conv layer on clean
   validation data (``core.activations``), then prune channels in increasing order of it,
   recording clean accuracy and attack success rate after each (the table:
   ``core.sweep_table``; exact and fast: ``core.sweep_plan`` recognises the net after the
   pruned layer, ``core.sweep_incremental`` updates only what a channel changes).
2. ``prune``: per threshold X, the fewest channels whose pruning costs X points of clean
   validation accuracy, deleted from a copy of the BadNet (``core.channels``).
3. ``fine_tune``: fine-tune the pruned model on clean validation data (fine-pruning), or
   the BadNet itself (fine-tuning alone, the baseline).
4. ``evaluate``: every model on clean and poisoned test data, which no choice ever sees
   (``core.scoring``, ``core.metrics``).
5. ``combine``: the BadNet and its repaired copy side by side as the GoodNet; where they
   disagree, class N, "poisoned" (``core.decision``; its model card: ``core.card``).
6. ``summary``: the study's tables and plots; over its replicates (``core.replicates``)
   the mean, sd and 95 % intervals (``core.statistics``).

``core`` is what the stages share: files in and out (``data_io``, ``model_file``,
``model_io`` for untrusted models, ``architectures``, ``atomic``), the net's layer graph
(``graph``), running and training nets (``inference``, ``training``, ``memory``,
``runtime``), figures (``plots``) and ``errors``. A stage imports ``core``, never another
stage; ``core`` imports no stage.

``demo`` is the attacker's side, which only the demo plays: synthetic faces
(``demo.faces``, ``demo.drawing``), triggers (``demo.triggers``), the data files
(``demo.demo_data``) and the BadNets (``demo.attack``; against pruning:
``demo.attack_pruning_aware``). The defense never imports it.

``config`` checks a workflow config against ``config/schema.yaml``, ``job`` runs a stage
function as a Snakemake job, ``cli`` is the ``goodnet`` command, and ``results`` the block
a run ends with (``goodnet results``; ``make run`` prints it through its Snakemake logger
plugin, ``snakemake_logger_plugin_goodnet``).
"""

__version__ = "0.1.0"
