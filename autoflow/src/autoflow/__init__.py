"""AutoFlow: runs notebook workflows (papermill) for each new date of data FlowAPI offers, and renders them as
PDF reports (nbconvert to AsciiDoc, asciidoctor-pdf), orchestrated with Prefect 3 (docs/autoflow.md)."""
