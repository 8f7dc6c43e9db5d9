"""The trace package: ``schemaops trace``, a rehearsal of the pending plan on a scratch
database (:mod:`.rehearsal`), what each statement did (:mod:`.tracer`), what that
means (:mod:`.judgement`) and its report (:mod:`.report`)."""
