"""Packaging for NOVOSKY, driven by settings.ini (nbdev 2 layout).

Deliberately free of `pkg_resources` (removed from recent setuptools)."""
from configparser import ConfigParser
from pathlib import Path
import setuptools

here = Path(__file__).parent
cfg = ConfigParser(delimiters=['='])
cfg.read(here / 'settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

for k in ('version', 'description', 'keywords', 'author', 'author_email', 'lib_name', 'user', 'min_python', 'git_url'):
    assert k in cfg, f'settings.ini: missing key {k!r}'

requirements = cfg.get('requirements', '').split()
dev_requirements = cfg.get('dev_requirements', '').split()
scripts = cfg.get('console_scripts', '').split()
readme = here / 'README.md'

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=readme.read_text(encoding='utf-8') if readme.exists() else cfg['description'],
    long_description_content_type='text/markdown',
    author=cfg['author'],
    author_email=cfg['author_email'],
    license='Apache-2.0',
    url=cfg['git_url'],
    keywords=cfg['keywords'].split(),
    python_requires='>=' + cfg['min_python'],
    packages=setuptools.find_packages(include=['novosky', 'novosky.*']),
    include_package_data=True,
    package_data={'novosky': ['sample/*', 'defaults/*']},
    install_requires=requirements,
    extras_require={'dev': dev_requirements, **{k[len('extra_'):]: v.split() for k, v in cfg.items() if k.startswith('extra_')}},
    entry_points={'console_scripts': scripts, 'nbdev': [f"{cfg['lib_name']}={cfg['lib_name']}._modidx:d"]},
    zip_safe=False,
)
