"""`workbench models ...`: the base models available and what training would target in them."""

from __future__ import annotations

import typer

from workbench.cli.common import console, print_json, table

app = typer.Typer(help="Base models: bundled, cached and local.", no_args_is_help=True)


@app.command("list")
def list_models():
    """Bundled models (installed? converted?) and model directories in the shared cache."""
    from workbench.core.models import list_models as models

    console.print(table("base models", ["name", "kind", "installed", "converted", "description"],
                        [[m["name"], m["kind"], m["installed"], m["converted"], m["description"]] for m in models()]))


@app.command("show")
def show(name: str = typer.Argument(..., help="Bundled name, local directory or hub id."),
         as_json: bool = typer.Option(False, "--json", help="Print as JSON.")):
    """Parameters, architecture, chat template present, and the LoRA target modules found."""
    from workbench.core.models import model_info

    info = model_info(name)
    if as_json:
        print_json(info)
        return
    console.print(f"[bold]{info['name']}[/]  {info['path']}")
    console.print(f"architecture {info['architecture']} ({info['model_type']}), {info['parameters'] / 1e6:.1f}M parameters, "
                  f"{info['layers']} layers, hidden {info['hidden_size']}, vocab {info['vocab_size']}")
    console.print(f"chat template: {'yes' if info['chat_template'] else 'no (give chat_template in the train config)'}")
    console.print(f"linear layers: {', '.join(info['linear_layers'])}")
    console.print(f"LoRA targets found: {', '.join(info['lora_targets']) or 'none (list target_modules explicitly)'}")
