"""CT-RATE style sentences for drawn abnormalities: several phrasings each, wording that
matches the drawn side, lobe, size and severity, and a short impression phrase."""

from __future__ import annotations

from ctrg_desktop.data.phantoms.finding import Detail

_NUMBER = {2: "two", 3: "three", 4: "four"}
_CORONARY = {"LAD": "left anterior descending", "LCX": "circumflex", "RCA": "right"}
_DEVICE_TEXT = {
    "pacemaker": (
        "A cardiac pacemaker is seen in the {side} chest wall with its lead extending into the right ventricle.",
        "Pacemaker generator in the {side} pectoral region, its lead reaching the right heart chambers.",
        "Cardiac pacemaker device on the {side} with the lead tip in the right ventricle of the heart."),
    "port catheter": (
        "A port catheter is seen in the {side} chest wall with its tip in the superior vena cava.",
        "Port catheter located in the {side} anterior chest wall, the catheter ending in the superior vena cava.",
        "There is a venous port catheter on the {side}, the catheter tip in the superior vena cava."),
    "sternotomy wires": (
        "Sternotomy wires are observed in the sternum.", "Median sternotomy wires are seen in the sternum.",
        "There are cerclage wires in the sternum after sternotomy."),
    "nasogastric tube": ("A nasogastric tube is seen in the esophagus, with its tip in the stomach.",
                         "Nasogastric tube passing through the esophagus into the stomach.",
                         "The nasogastric tube runs along the esophagus and its tip is in the stomach."),
}


def lung_place(d: Detail, rng) -> str:
    """"the lower lobe of the right lung" / "the right lung lower lobe" (always says lung)."""
    lobe = d.location
    if d.side == "bilateral":
        return f"the {lobe} of both lungs"
    return f"the {lobe} of the {d.side} lung" if rng.random() < 0.6 else f"the {d.side} lung {lobe}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _places(ds, rng) -> str:
    """The distinct lung places of several details, joined."""
    unique = {(d.side, d.location): d for d in ds}
    return _join([lung_place(d, rng) for d in unique.values()])


def _pick(rng, options) -> str:
    return options[int(rng.integers(len(options)))]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _nodule_word(d: float, rng) -> str:
    if d < 10:
        return _pick(rng, ("", "millimetric ", "small "))
    return "large " if d >= 20 else _pick(rng, ("", "solid "))


def nodules(ds, rng) -> list[str]:
    if len(ds) == 1:
        d, place, word = round(ds[0].size_mm), lung_place(ds[0], rng), _nodule_word(ds[0].size_mm, rng)
        return [_pick(rng, (f"A {d} mm {word}nodule was observed in {place}.",
                            _cap(f"{word}nodule measuring {d} mm is seen in {place}."),
                            f"There is a {d} mm {word}nodule in {place}."))]
    parts = _join([f"{round(d.size_mm)} mm in {lung_place(d, rng)}" for d in ds])
    n = _NUMBER[len(ds)]
    return [_pick(rng, (f"{_cap(n)} nodules were observed in the lungs, measuring {parts}.",
                        f"There are {n} solid nodules in the lungs: {parts}.",
                        f"Multiple ({n}) nodules are seen in the lung parenchyma, measuring {parts}."))]


def opacities(ds, rng) -> list[str]:
    places = _places(ds, rng)
    return [_pick(rng, (f"Ground-glass opacities were observed in {places}.",
                        f"Patchy ground-glass density areas are seen in {places}.",
                        f"There are ground glass opacities in {places}."))]


def consolidation(ds, rng) -> list[str]:
    places = _places(ds, rng)
    air = " with air bronchograms" if any(d.extra.get("air_bronchogram") for d in ds) else ""
    return [_pick(rng, (f"Consolidation{air} was observed in {places}.",
                        f"An area of consolidation{air} is seen in {places}.",
                        f"There is pneumonic consolidation{air} in {places}."))]


def atelectasis(ds, rng) -> list[str]:
    places = _places(ds, rng)
    return [_pick(rng, (f"Linear atelectasis was observed in {places}.",
                        f"Plate-like atelectasis is seen in {places}.",
                        f"Subsegmental linear atelectatic changes were observed in {places}."))]


def emphysema(ds, rng) -> list[str]:
    d = ds[0]
    sev = {"mild": "mild", "moderate": "moderate", "severe": _pick(rng, ("marked", "severe"))}[d.severity]
    kind = d.extra["kind"]
    return [_pick(rng, (f"{_cap(sev)} {kind} emphysematous changes were observed in both lungs, "
                        "predominantly in the upper lobes.",
                        f"{_cap(sev)} {kind} emphysema is seen in the upper lobes of both lungs.",
                        f"There are {sev} {kind} emphysematous areas in the upper lobes of both lungs."))]


def mosaic(ds, rng) -> list[str]:
    sev = ds[0].severity
    return [_pick(rng, ("A mosaic attenuation pattern was observed in both lungs.",
                        "Mosaic attenuation pattern is seen in the lung parenchyma bilaterally.",
                        f"{_cap(sev)} mosaic attenuation pattern was noted in both lungs."))]


def septal(ds, rng) -> list[str]:
    where = "the lower lobes of both lungs" if ds[0].location == "lower lobes" else "both lungs"
    return [_pick(rng, (f"Interlobular septal thickening was observed in the subpleural areas of {where}.",
                        f"Smooth interlobular septal thickening is seen in the peripheral parts of {where}.",
                        f"There is interlobular septal thickening in the periphery of {where}."))]


def fibrotic(ds, rng) -> list[str]:
    place = lung_place(ds[0], rng)
    return [_pick(rng, (f"Fibrotic bands were observed in {place}.",
                        f"Sequelae fibrotic changes are seen in {place}.",
                        f"Linear fibrotic densities consistent with sequelae were observed in {place}."))]


def bronchiectasis(ds, rng) -> list[str]:
    d = ds[0]
    place = lung_place(d, rng)
    return [_pick(rng, (f"{_cap(d.extra['kind'])} bronchiectasis was observed in {place}.",
                        f"Bronchiectatic changes ({d.extra['kind']}) are seen in {place}.",
                        f"There is {d.extra['kind']} bronchiectasis in {place}, "
                        f"with bronchi up to {round(d.size_mm)} mm wide."))]


def peribronchial(ds, rng) -> list[str]:
    d = ds[0]
    lungs = "both lungs" if d.side == "bilateral" else f"the {d.side} lung"
    where = f"the lower lobes of {lungs}" if d.location == "lower lobes" else lungs
    return [_pick(rng, (f"Peribronchial thickening was observed in {where}.",
                        f"Peribronchial wall thickening is seen in {where}.",
                        f"There is peribronchial thickening in {where}."))]


def pleural_effusion(ds, rng) -> list[str]:
    if len(ds) == 1:
        d = ds[0]
        t, amount, side = round(d.size_mm), d.severity, d.side
        return [_pick(rng, (f"{_cap(amount)} pleural effusion reaching {t} mm in thickness was observed on the {side}.",
                            f"There is a {amount} {side} pleural effusion with a thickness of {t} mm.",
                            f"{_cap(side)} pleural effusion of {amount} amount ({t} mm thick) was detected."))]
    r, le = sorted(ds, key=lambda d: d.side != "right")
    parts = f"{r.severity} on the right ({round(r.size_mm)} mm) and {le.severity} on the left ({round(le.size_mm)} mm)"
    return [_pick(rng, (f"Bilateral pleural effusion was observed, {parts}.",
                        f"There is bilateral pleural effusion, {parts}.",
                        f"Pleural effusion is seen on both sides, {parts}."))]


def pericardial_effusion(ds, rng) -> list[str]:
    t, sev = round(ds[0].size_mm), ds[0].severity
    return [_pick(rng, (f"Pericardial effusion reaching {t} mm in thickness was observed.",
                        f"{_cap(sev)} pericardial effusion with a maximum thickness of {t} mm is seen.",
                        f"There is pericardial effusion measuring {t} mm."))]


def cardiomegaly(ds, rng) -> list[str]:
    pct, sev = round(100 * ds[0].extra["ctr"]), ds[0].severity
    return [_pick(rng, (f"Heart size increased, with a cardiothoracic ratio of {pct}%.",
                        f"{_cap(sev)} cardiomegaly with a cardiothoracic ratio of {pct}% was observed.",
                        f"The heart is enlarged (cardiothoracic ratio {pct}%)."))]


def aortic_calcification(ds, rng) -> list[str]:
    d = ds[0]
    return [_pick(rng, (f"Calcific atherosclerotic plaques were observed in the {d.location}.",
                        f"{_cap(d.severity)} atherosclerotic calcifications are seen in the wall of the {d.location}.",
                        f"There are {d.severity} calcified plaques in the wall of the {d.location}."))]


def coronary_calcification(ds, rng) -> list[str]:
    d = ds[0]
    names = _join([_CORONARY[n] for n in d.extra["arteries"]])
    return [_pick(rng, (f"{_cap(d.severity)} calcification was observed in the {names} coronary arteries.",
                        f"Calcified plaques are seen in the coronary arteries ({names}).",
                        f"There are {d.severity} calcific plaques along the {names} coronary arteries."))]


def lymphadenopathy(ds, rng) -> list[str]:
    if len(ds) == 1:
        s, where = round(ds[0].size_mm), ds[0].location
        return [_pick(rng, (f"A lymph node measuring {s} mm in short axis was observed in the {where} region "
                            "of the mediastinum.",
                            f"Mediastinal lymphadenopathy is seen: a {s} mm node at the {where} station.",
                            f"A pathologically enlarged mediastinal lymph node with a short axis of {s} mm is seen "
                            f"in the {where} area."))]
    parts = _join([f"{round(d.size_mm)} mm at the {d.location} station" for d in ds])
    return [_pick(rng, (f"Enlarged mediastinal lymph nodes were observed, measuring {parts} in short axis.",
                        f"Mediastinal lymphadenopathy is seen: {parts} (short axis).",
                        f"There are pathologically enlarged lymph nodes in the mediastinum, {parts} in short axis."))]


def hiatal_hernia(ds, rng) -> list[str]:
    d = ds[0]
    size = {"small": _pick(rng, ("small", "minimal")), "moderate": "moderate", "large": "large"}[d.severity]
    return [_pick(rng, (f"{_cap(size)} hiatal hernia was observed.",
                        f"A {size} hiatal hernia about {round(d.size_mm)} mm across is seen.",
                        f"There is a {size} sliding hiatal hernia."))]


def medical_material(ds, rng) -> list[str]:
    return [_pick(rng, _DEVICE_TEXT[d.extra["kind"]]).format(side=d.side) for d in ds]


POSITIVE = {
    "Lung nodule": nodules, "Lung opacity": opacities, "Consolidation": consolidation, "Atelectasis": atelectasis,
    "Emphysema": emphysema, "Mosaic attenuation pattern": mosaic, "Interlobular septal thickening": septal,
    "Pulmonary fibrotic sequela": fibrotic, "Bronchiectasis": bronchiectasis,
    "Peribronchial thickening": peribronchial, "Pleural effusion": pleural_effusion,
    "Pericardial effusion": pericardial_effusion, "Cardiomegaly": cardiomegaly,
    "Arterial wall calcification": aortic_calcification, "Coronary artery wall calcification": coronary_calcification,
    "Lymphadenopathy": lymphadenopathy, "Hiatal hernia": hiatal_hernia, "Medical material": medical_material,
}


def impression(label: str, ds, rng) -> str:
    """A short impression phrase for one present label."""
    d = ds[0]
    if label == "Lung nodule":
        big = max(ds, key=lambda x: x.size_mm)
        more = " and smaller nodules." if len(ds) > 1 else "."
        return f"{round(big.size_mm)} mm nodule in {lung_place(big, rng)}{more}"
    if label == "Pleural effusion":
        return f"{'Bilateral' if len(ds) > 1 else _cap(d.side)} pleural effusion."
    if label == "Medical material":
        return _join([x.extra["kind"] for x in ds]).capitalize() + "."
    if label == "Emphysema":
        return f"{_cap(d.severity)} emphysema."
    fixed = {
        "Lung opacity": "Ground-glass opacities in the lungs.", "Consolidation": "Pneumonic consolidation.",
        "Atelectasis": "Linear atelectasis.",
        "Mosaic attenuation pattern": "Mosaic attenuation pattern.",
        "Interlobular septal thickening": "Interlobular septal thickening.",
        "Pulmonary fibrotic sequela": "Fibrotic sequelae in the lung.", "Bronchiectasis": "Bronchiectasis.",
        "Peribronchial thickening": "Peribronchial thickening.", "Pericardial effusion": "Pericardial effusion.",
        "Cardiomegaly": "Cardiomegaly.", "Arterial wall calcification": "Atherosclerotic changes in the aorta.",
        "Coronary artery wall calcification": "Coronary artery calcification.",
        "Lymphadenopathy": "Mediastinal lymphadenopathy.", "Hiatal hernia": "Hiatal hernia.",
    }
    return fixed[label]
