"""keyring finds its backends through entry points, which a frozen app lacks by default.

``keyring.backend._load_plugins`` reads the ``keyring.backends`` entry points from keyring's
distribution metadata and imports the modules they name (SecretService, KWallet, libsecret, the
macOS and Windows stores). Without the metadata the frozen app silently falls back to the
"fail" backend and cannot keep an API key; without the modules, which nothing imports by name,
the entry points would name modules the bundle does not have.
"""

from PyInstaller.utils.hooks import collect_submodules, copy_metadata

datas = copy_metadata("keyring")
hiddenimports = collect_submodules("keyring.backends")
