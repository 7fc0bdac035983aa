import { defineSpecs } from './harness.js'

defineSpecs(1, [5, 7, 18, 4, 9, 11, 18])
