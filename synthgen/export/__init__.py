"""From run folders to a dataset a trainer reads: NeMo chat JSONL, a Hugging Face dataset,
OpenAI fine-tuning JSONL, with a train/val split that keeps each cell's share and never
puts near-duplicates on both sides.

Reads run folders through ``synthgen.runfolder.reader`` and each record's chat turns
through its recipe's ``chat_turns`` hook; never imports the runner.
"""
