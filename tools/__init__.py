"""Operations around the pipeline, outside the science package: publishing a run
(tools.publish), the README's generated blocks (tools.readme), what a preset costs
(tools.cost) and training-step throughput (tools.bench). They import ffmodels; nothing in
ffmodels or in the workflow's jobs imports them. How they are used: tools/README.md."""
