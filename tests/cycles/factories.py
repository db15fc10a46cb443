"""factory_boy factories for cycles, objectives, key results, initiatives and reviews.

They write rows directly (fast, for pages and query counts); tests of rules go through
``cycles.services``. Progress is computed the way the services do, so pages show real figures.
"""

from datetime import date
from decimal import Decimal

import factory

from cycles import scoring
from cycles.models import (
    Alignment,
    Cycle,
    CycleState,
    Initiative,
    KeyResult,
    Level,
    Objective,
    ObjectiveStatus,
    Review,
)


class CycleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cycle

    name = factory.Sequence(lambda n: f"Cycle {n}")
    start_date = date(2026, 4, 1)
    end_date = date(2026, 6, 30)
    state = CycleState.PLANNING


class ObjectiveFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Objective
        skip_postgeneration_save = True

    cycle = factory.SubFactory(CycleFactory)
    organization = factory.LazyAttribute(lambda o: o.cycle.organization)
    title = factory.Sequence(lambda n: f"Objective {n}")
    level = Level.INDIVIDUAL
    status = ObjectiveStatus.PUBLISHED
    mission_link = factory.LazyAttribute(
        lambda o: "The mission" if o.level == Level.COMPANY else ""
    )

    @factory.post_generation
    def aligned_to(self, create, parents, **kwargs):
        for parent in parents or ():
            Alignment.objects.create(organization=self.organization, child=self, parent=parent)


class KeyResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeyResult

    objective = factory.SubFactory(ObjectiveFactory)
    organization = factory.LazyAttribute(lambda kr: kr.objective.organization)
    owner = factory.LazyAttribute(lambda kr: kr.objective.owner)
    title = factory.Sequence(lambda n: f"Grow metric {n} from 10 to 20")
    start_value = Decimal(10)
    target_value = Decimal(20)
    current_value = Decimal(15)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        kr = model_class(*args, **kwargs)
        kr.progress = kr.compute_progress()
        kr.save()
        objective = kr.objective
        objective.progress = scoring.objective_progress(
            KeyResult.objects.for_org(objective.organization_id)
            .filter(objective=objective)
            .values_list("progress", "weight")
        )
        objective.save(update_fields=["progress"])
        return kr


class InitiativeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Initiative

    key_result = factory.SubFactory(KeyResultFactory)
    organization = factory.LazyAttribute(lambda i: i.key_result.organization)
    title = factory.Sequence(lambda n: f"Initiative {n}")


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    objective = factory.SubFactory(ObjectiveFactory)
    organization = factory.LazyAttribute(lambda r: r.objective.organization)
    decision = "approved"
